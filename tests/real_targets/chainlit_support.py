"""Running Chainlit pods for the real-target tests, and running the probe against them.

A pod is one `chainlit run APP --headless` process (Chainlit serves a single uvicorn process and
has no --workers), started from the Chainlit venv in its own folder and process group, on a free
loopback port. Several pods stand behind `nginx_round_robin(..., websocket=True, served_by=True)`
as they would behind a balancer in production; X-Served-By on the 101 names the pod.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import httpx

from support.services import REPO_ROOT, RunningService, free_port, stop_process_group, wait_until_ready

APPS = Path(__file__).resolve().parent / "apps"
EXAMPLES = REPO_ROOT / "examples"  # codeword_model.py and codewords.py, the offline model


# A pod is a RunningService: its url, port, process and log.
Pod = RunningService


@contextlib.contextmanager
def chainlit_pods(python: Path, app_folder: Path, app_file: str, count: int,
                  env: dict[str, str] | None = None) -> Iterator[list[Pod]]:
    """Start `count` pods of `app_folder/app_file`, each from its own copy of the folder (Chainlit
    writes `.chainlit/` and `chainlit.md` on first start), and stop them all at the end.

    The pods import the offline model from examples/ and the fix kit from this project, as an
    app would after `pip install autogen-doctor[redis]`."""
    chainlit = python.parent / "chainlit"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {}),
           "PYTHONPATH": os.pathsep.join([str(APPS), str(EXAMPLES), str(REPO_ROOT)])}
    env.pop("CI", None)  # the service does not need to know it runs in CI
    pods: list[Pod] = []
    try:
        for index in range(count):
            folder = app_folder.parent / f"{app_folder.name}-pod{index}"
            shutil.copytree(app_folder, folder)
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix=f"chainlit-{port}-", suffix=".log", delete=False)
            process = subprocess.Popen(
                [str(chainlit), "run", app_file, "--headless", "--host", "127.0.0.1", "--port", str(port)],
                cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            pods.append(Pod(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=Path(log.name)))
        for pod in pods:
            url = f"http://127.0.0.1:{pod.port}/"
            try:
                wait_until_ready(lambda: httpx.get(url, timeout=1.0).status_code == 200, pod.process,
                                 f"chainlit on port {pod.port}", timeout_s=90)
            except RuntimeError as error:
                raise RuntimeError(f"{error}\n{pod.log()[-3000:]}") from None
        yield pods
    finally:
        for pod in pods:
            stop_process_group(pod.process)
            pod.log_path.unlink(missing_ok=True)


@dataclass
class ProbeRun:
    command: list[str]
    exit_code: int
    report: dict[str, Any]
    stderr: str


def run_probe(url: str, *flags: str, timeout_s: float = 240, cwd: Path = REPO_ROOT,
              env: dict[str, str] | None = None) -> ProbeRun:
    """`autogen-doctor probe URL FLAGS --format json -q` from the test interpreter, as a user runs it.

    `env` adds to the environment (with --serve, the served command inherits it)."""
    command = [sys.executable, "-m", "autogen_doctor", "probe", url, *flags, "--format", "json", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=cwd,
                          env={**os.environ, **(env or {})})
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"probe printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return ProbeRun(command=command, exit_code=done.returncode, report=report, stderr=done.stderr)


def describe(run: ProbeRun, pods: Sequence[Pod] = ()) -> str:
    """What to print when a run's verdict is not the expected one: the report and the pods' logs."""
    report = {key: run.report.get(key) for key in ("verdict", "cause", "reason", "recall", "checks", "errors",
                                                   "backends", "identity_source", "notes")}
    logs = "\n".join(f"--- pod {pod.port} ---\n{pod.log()[-2000:]}" for pod in pods)
    return f"{' '.join(run.command)}\nexit {run.exit_code}\n{json.dumps(report, indent=1)}\n{run.stderr}\n{logs}"
