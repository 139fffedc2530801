"""Find the processes a test started, by a marker in their environment.

Workers spawned by uvicorn or gunicorn inherit the environment but not the command line,
so an environment variable is the one mark every descendant carries. Linux /proc only.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

MARKER_NAME = "AUTOGEN_DOCTOR_TEST_MARKER"


def new_marker() -> str:
    return f"serve-test-{uuid.uuid4().hex}"


def marked_processes(marker: str, *, exclude: tuple[int, ...] = ()) -> list[int]:
    """Pids of live (non-zombie) processes whose environment holds MARKER_NAME=marker."""
    needle = f"{MARKER_NAME}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[-1].split()[0]
        if state in ("Z", "X"):
            continue  # a zombie is dead; only its parent's wait() is missing
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, *, exclude: tuple[int, ...] = (), timeout_s: float = 10.0) -> list[int]:
    """Wait for every marked process to end; returns those still alive at the timeout."""
    deadline = time.monotonic() + timeout_s
    alive = marked_processes(marker, exclude=exclude)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = marked_processes(marker, exclude=exclude)
    return alive


def wait_for_count(marker: str, count: int, *, exclude: tuple[int, ...] = (), timeout_s: float = 30.0) -> list[int]:
    """Wait until at least `count` marked processes are alive; returns them (maybe fewer at timeout)."""
    deadline = time.monotonic() + timeout_s
    alive = marked_processes(marker, exclude=exclude)
    while len(alive) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = marked_processes(marker, exclude=exclude)
    return alive
