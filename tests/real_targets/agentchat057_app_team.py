"""The official `agentchat_fastapi/app_team.py` sample, run unmodified under uvicorn, offline.

The sample's code comes from a microsoft/autogen checkout (checkout.py: never committed here).
Only its `model_config.yaml` is written: the provider is the project's offline
`CodewordChatCompletionClient` (examples/codeword_model.py, on PYTHONPATH), a fake, since no LLM
can run in tests; it lists the codewords it can see, so a reply shows what the team remembers.

Two interpreters: autogen 0.5.7 (agentchat057_env.py, shared with AutoGen Studio), on which the
sample works; and autogen-agentchat 0.7.5 (its own venv below), on which every turn fails because
the sample's `send_json(message.model_dump())` meets a datetime (microsoft/autogen#7073). The
project's own interpreter has 0.7.x but not the sample's `aiofiles`, so it is not used.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from real_targets.venvs import target_python
from support.services import REPO_ROOT, free_port, stop_process_group, wait_until_ready

AGENTCHAT075_REQUIREMENTS = [
    "autogen-agentchat==0.7.5",
    "autogen-core==0.7.5",
    "fastapi==0.165.0",
    "uvicorn[standard]==0.55.0",
    "aiofiles==25.1.0",
    "pyyaml==6.0.4",
]

MODEL_CONFIG = "provider: codeword_model.CodewordChatCompletionClient\nconfig: {}\n"


def agentchat075_python() -> Path:
    """The python of the autogen-agentchat 0.7.5 venv (built from PyPI on first use)."""
    return target_python("agentchat075", AGENTCHAT075_REQUIREMENTS)


def write_model_config(sample: Path) -> None:
    """The one file written into the sample: its model config, naming the offline client."""
    (sample / "model_config.yaml").write_text(MODEL_CONFIG)


@dataclass
class AppTeamPod:
    """One `uvicorn app_team:app` (one pod): its URL and its own copy of the sample."""

    url: str
    port: int
    sample: Path
    process: subprocess.Popen

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws/chat"

    def log(self) -> str:
        try:
            return (self.sample / "uvicorn.log").read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def app_team_pods(python: Path, samples: list[Path], *, workers: int = 1,
                  timeout_s: float = 120.0) -> Iterator[list[AppTeamPod]]:
    """`uvicorn app_team:app --host 127.0.0.1 --port P --workers N` in each sample copy (its working
    directory: the sample reads model_config.yaml and writes its state files there), started
    together; ready when `GET /` answers and every worker logged its startup."""
    pods: list[AppTeamPod] = []
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "examples"), "PYTHONUNBUFFERED": "1"}
    try:
        for sample in samples:
            port = free_port()
            with open(sample / "uvicorn.log", "ab") as log:
                process = subprocess.Popen(
                    [str(python), "-m", "uvicorn", "app_team:app", "--host", "127.0.0.1", "--port", str(port),
                     "--workers", str(workers)],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(sample), start_new_session=True)
            pods.append(AppTeamPod(url=f"http://127.0.0.1:{port}", port=port, sample=sample, process=process))
        for pod in pods:
            wait_until_ready(lambda pod=pod: httpx.get(pod.url + "/", timeout=2.0).status_code == 200,
                             pod.process, "uvicorn app_team:app", timeout_s=timeout_s)
            deadline = time.monotonic() + timeout_s
            while pod.log().count("Application startup complete") < workers:
                if time.monotonic() > deadline or pod.process.poll() is not None:
                    raise RuntimeError(f"app_team: {workers} workers did not start:\n{pod.log()[-3000:]}")
                time.sleep(0.2)
        yield pods
    finally:
        for pod in pods:
            stop_process_group(pod.process)
