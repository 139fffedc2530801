"""AutoGen Studio (`autogenstudio ui`, 0.4.2.2) started as a user starts it, offline, on loopback.

The service runs from the autogen 0.5.7 venv (agentchat057_env.py) with a temporary HOME (the CLI
writes ~/.autogenstudio/temp_env_vars.env, which the uvicorn workers read) and a temporary app
directory (SQLite database, alembic files). The offline model is the project's
`CodewordChatCompletionClient` (examples/codeword_model.py, on PYTHONPATH): a fake, since no LLM
can run in tests. The team that uses it is created through Studio's own REST API, as a user
creates one in the UI; the probe's `studio` preset then picks it as the user's newest team.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from support.services import REPO_ROOT, free_port, stop_process_group, wait_until_ready

STUDIO_USER = "guestuser@gmail.com"  # Studio's user when no auth is configured
HERE = Path(__file__).resolve().parent
# Each worker logs this once its application startup finished.
STARTED_LINE = "autogenstudio.web.app:lifespan"


def studio_team(python: Path) -> dict:
    """The offline team's component JSON, dumped by autogen 0.5.7 itself (studio_team.py)."""
    done = subprocess.run([str(python), str(HERE / "studio_team.py")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "examples")})
    if done.returncode != 0:
        raise RuntimeError(f"studio_team.py failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


@dataclass
class StudioPod:
    """One running `autogenstudio ui`: its base URL and the folder holding HOME, app dir and log."""

    url: str
    port: int
    folder: Path
    process: subprocess.Popen

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def log(self) -> str:
        try:
            return (self.folder / "studio.log").read_text(errors="replace")
        except OSError:
            return ""


def _workers_started(pod: StudioPod) -> int:
    return pod.log().count(STARTED_LINE)


def _start(python: Path, folder: Path, workers: int) -> tuple[StudioPod, int]:
    (folder / "home").mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [str(python), "-m", "autogenstudio.cli", "ui", "--host", "127.0.0.1", "--port", str(port),
               "--appdir", str(folder / "app"), "--workers", str(workers)]
    env = {**os.environ, "HOME": str(folder / "home"), "PYTHONPATH": str(REPO_ROOT / "examples"),
           "PYTHONUNBUFFERED": "1"}
    env.pop("OPENAI_BASE_URL", None)
    with open(folder / "studio.log", "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(folder),
                                   start_new_session=True)
    pod = StudioPod(url=f"http://127.0.0.1:{port}", port=port, folder=folder, process=process)
    return pod, _workers_started(pod)  # the log is appended to when the folder is reused


def _wait_ready(pod: StudioPod, workers: int, started_before: int, timeout_s: float) -> None:
    wait_until_ready(lambda: httpx.get(pod.url + "/api/version", timeout=2.0).status_code == 200,
                     pod.process, "autogenstudio ui", timeout_s=timeout_s)
    deadline = time.monotonic() + timeout_s
    while _workers_started(pod) - started_before < workers:
        if time.monotonic() > deadline or pod.process.poll() is not None:
            raise RuntimeError(f"autogenstudio ui: {workers} workers did not start:\n{pod.log()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def autogen_studio_pods(python: Path, folders: list[Path], *, workers: int = 1,
                        timeout_s: float = 180.0) -> Iterator[list[StudioPod]]:
    """Run `python -m autogenstudio.cli ui --host 127.0.0.1 --port P --appdir FOLDER/app --workers N`
    once per folder (one pod each, started together), until the block ends.

    Ready when `GET /api/version` answers and every worker has logged its startup: uvicorn's
    supervisor kills a worker that does not answer its 5 s health check, and a Studio worker
    spends seconds importing before it can (see docs/targets/autogen-studio.md), so N workers
    may take several starts each on a busy machine.
    """
    started: list[tuple[StudioPod, int]] = []
    try:
        for folder in folders:
            started.append(_start(python, folder, workers))
        for pod, before in started:
            _wait_ready(pod, workers, before, timeout_s)
        yield [pod for pod, _ in started]
    finally:
        for pod, _ in started:
            stop_process_group(pod.process)


@contextlib.contextmanager
def autogen_studio(python: Path, folder: Path, *, workers: int = 1, timeout_s: float = 180.0) -> Iterator[StudioPod]:
    """One `autogenstudio ui` pod (see autogen_studio_pods)."""
    with autogen_studio_pods(python, [folder], workers=workers, timeout_s=timeout_s) as (pod,):
        yield pod


def create_team(pod: StudioPod, team: dict) -> int:
    """Create the team through Studio's REST API (what the UI's team builder does); its id."""
    response = httpx.post(pod.url + "/api/teams/", json={"user_id": STUDIO_USER, "component": team}, timeout=30)
    response.raise_for_status()
    return int(response.json()["data"]["id"])

