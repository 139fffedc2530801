"""Running our FastAgency workflow (apps/fastagency_app.py) under `uvicorn --workers N` from the
FastAgency venv, for the real-target tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import httpx

from support.services import RunningService, free_port, stop_process_group, wait_until_ready

from .chainlit_support import APPS, EXAMPLES

APP = "fastagency_app:app"
SERVICE_PYTHONPATH = os.pathsep.join([str(APPS), str(EXAMPLES)])


@contextlib.contextmanager
def fastagency_service(python: Path, workers: int) -> Iterator[RunningService]:
    """`uvicorn fastagency_app:app --workers N` on a free loopback port, in its own process group."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": SERVICE_PYTHONPATH}
    log = tempfile.NamedTemporaryFile(prefix=f"fastagency-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(python), "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    service = RunningService(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=Path(log.name))
    try:
        discovery = service.url + "/fastagency/discovery"
        try:
            wait_until_ready(lambda: httpx.get(discovery, timeout=1.0).status_code == 200, process,
                             f"uvicorn {APP}", timeout_s=90)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{service.log()[-3000:]}") from None
        # uvicorn's supervisor starts workers one after another and the app names no process:
        # wait until the log shows every worker's startup.
        wait_until_ready(lambda: service.log().count("Application startup complete") >= workers, process,
                         f"{workers} workers of {APP}", timeout_s=60)
        yield service
    finally:
        stop_process_group(process)
        Path(log.name).unlink(missing_ok=True)
