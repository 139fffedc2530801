"""Shared by the scan CLI tests: real files to scan and a way to run the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = REPO_ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"

# A FastAPI handler that keeps each conversation in a module-level dict: per-process state
# that AD101 reports (the line holding the write is the one findings point at).
STATEFUL_APP = textwrap.dedent('''\
    from fastapi import FastAPI

    app = FastAPI()
    SESSIONS = {}


    @app.post("/chat/{session_id}")
    async def chat(session_id: str, message: str):
        history = SESSIONS.get(session_id, [])
        history.append(message)
        SESSIONS[session_id] = history
        return {"reply": len(history)}
''')

# The same service with its history in Redis: must stay silent.
CLEAN_APP = textwrap.dedent('''\
    import json

    import redis
    from fastapi import FastAPI

    app = FastAPI()
    store = redis.Redis()


    @app.post("/chat/{session_id}")
    async def chat(session_id: str, message: str):
        store.rpush(f"history:{session_id}", json.dumps(message))
        return {"reply": store.llen(f"history:{session_id}")}
''')


def run_scan(cwd: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`autogen-doctor scan ARGS` in `cwd`, with the cache in a private folder unless given."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("GITHUB_ACTIONS", None)
    command = [sys.executable, "-m", "autogen_doctor", "scan", *args]
    if "--cache-dir" not in args and "--no-cache" not in args:
        command += ["--cache-dir", str(cwd / ".autogen-doctor-cache")]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def json_report(completed: subprocess.CompletedProcess) -> dict:
    assert completed.stdout, completed.stderr
    return json.loads(completed.stdout)


def findings_of(completed: subprocess.CompletedProcess) -> list[dict]:
    return json_report(completed)["findings"]


def reported_line(project: Path, relative: str = "app/main.py", code: str = "AD101") -> int:
    """The line a real scan reports `code` at in `relative` (tests place comments around it)."""
    completed = run_scan(project, relative, "--format", "json", "--no-cache")
    lines = [item["line"] for item in findings_of(completed) if item["code"] == code]
    assert lines, f"{code} not reported in {relative}: {completed.stdout} {completed.stderr}"
    return lines[0]


def insert_line(path: Path, number: int, text: str) -> None:
    """Insert `text` as line `number` (1-based), indented like the line it pushes down."""
    lines = path.read_text().splitlines()
    below = lines[number - 1] if number - 1 < len(lines) else ""
    indent = below[: len(below) - len(below.lstrip())]
    lines.insert(number - 1, indent + text)
    path.write_text("\n".join(lines) + "\n")


def append_to_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] += text
    path.write_text("\n".join(lines) + "\n")
