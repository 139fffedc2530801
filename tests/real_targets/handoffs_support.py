"""Running the official `core_streaming_handoffs_fastapi` sample unmodified, and probing it.

The sample's code comes from a microsoft/autogen checkout (`copy_sample`, never committed here);
only its `model_config.yaml` is written, pointing at the offline `handoffs_model` (a fake: no LLM
runs here). The service runs from a venv with the sample's own pins (fastapi 0.115.12, uvicorn
0.34.2, PyYAML 6.0.2; autogen-core 0.7.5 satisfies its `>=0.5.4`; aiofiles, which app.py imports
and its requirements get only through autogen-ext[openai]). The probe runs from the test
interpreter, as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import httpx

from real_targets.checkout import copy_sample
from real_targets.venvs import target_python
from support.services import REPO_ROOT, free_port, stop_process_group, wait_until_ready

SAMPLE = "core_streaming_handoffs_fastapi"
REQUIREMENTS = ["autogen-core==0.7.5", "fastapi==0.115.12", "uvicorn==0.34.2", "PyYAML==6.0.2",
                "aiofiles==25.1.0"]
MODEL_CONFIG = "provider: handoffs_model.HandoffsCodewordClient\nconfig:\n  latency_s: 0.05\n  chunk_delay_s: 0.01\n"
# The sample's request body (README "Request Body Format") and where its NDJSON lines carry text.
BODY = '{"message":"{message}","conversation_id":"{session}"}'
REPLY_PATH = "content.message"
HERE = Path(__file__).resolve().parent


def service_pythonpath() -> str:
    """The offline model (this folder) and `examples/codewords.py` for the sample's venv."""
    return os.pathsep.join([str(HERE), str(REPO_ROOT / "examples")])


def sample_python() -> Path:
    return target_python("handoffs-sample", REQUIREMENTS)


def prepare_sample(destination: Path) -> Path:
    """A fresh copy of the sample with the offline model configured; returns its folder."""
    destination.mkdir(parents=True, exist_ok=True)
    folder = copy_sample(SAMPLE, destination)
    (folder / "model_config.yaml").write_text(MODEL_CONFIG)
    return folder


@contextlib.contextmanager
def sample_service(python: Path, folder: Path) -> Iterator[str]:
    """`uvicorn app:app` (one worker, as the README runs it, without --reload) from `folder`."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="handoffs-", suffix=".log", delete=False)
    env = {**os.environ, "PYTHONPATH": service_pythonpath(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(python), "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"],
                               cwd=str(folder), env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(lambda: httpx.get(url + "/", timeout=1.0).status_code == 200, process,
                         f"the handoffs sample in {folder}")
        yield url
    finally:
        stop_process_group(process)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def probe(target: str, *flags: str, cwd: Path, record: Path, timeout_s: float = 240) -> tuple[int, dict]:
    """`autogen-doctor probe TARGET` with the sample's body and reply path; (exit code, JSON report).

    With --serve the JSON holds one run per worker count: the single run's result is returned.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), service_pythonpath()])}
    done = subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", target, "--body", BODY,
                           "--reply-path", REPLY_PATH, "--format", "json", "--record", str(record),
                           "--quiet", *flags],
                          capture_output=True, text=True, timeout=timeout_s, cwd=str(cwd), env=env)
    if not done.stdout:  # a usage error or "every request failed": one line on stderr
        return done.returncode, {"error": done.stderr.strip()}
    report = json.loads(done.stdout)
    if "runs" in report:
        [run] = report["runs"]
        return run["exit_code"], run.get("result") or run
    return done.returncode, report


def turns_of(record: Path) -> list[dict]:
    """The per-turn records of a --record file (its first line describes the run); --serve
    writes FILE.<N>w.jsonl per worker count instead of FILE.jsonl."""
    if not record.exists():
        [record] = record.parent.glob(f"{record.stem}.*w{record.suffix}")
    return [entry for entry in map(json.loads, record.read_text().splitlines()) if "turn" in entry]


def stream_turn(url: str, conversation: str, message: str, *, timeout_s: float = 10.0) -> str:
    """One turn as the sample's README client sends it; the joined text of its NDJSON lines."""
    with httpx.stream("POST", url + "/chat/completions", json={"message": message, "conversation_id": conversation},
                      timeout=timeout_s) as response:
        return "".join(json.loads(line)["content"]["message"] for line in response.iter_lines() if line)


def leave_mid_reply(url: str, conversation: str, message: str) -> str:
    """Send a turn and hang up after its first line, as a closed browser tab does."""
    with httpx.stream("POST", url + "/chat/completions", json={"message": message, "conversation_id": conversation},
                      timeout=10.0) as response:
        for line in response.iter_lines():
            if line:
                return line
    return ""
