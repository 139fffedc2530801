"""Process lifetime for `--serve` and the demo: start a server in its own session, stop it and
every descendant, on success, failure, Ctrl-C, SIGTERM and (Linux) even when we are killed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

LOOPBACK = "127.0.0.1"
# How long a stopped server may take to shut down cleanly before its group is killed.
DEFAULT_STOP_GRACE_S = 5.0


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --- process lifetime -------------------------------------------------------------------

_live_processes: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def _kill_leftovers() -> None:
    """atexit: whatever a crash left running dies with us."""
    with _live_lock:
        leftovers = list(_live_processes)
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


atexit.register(_kill_leftovers)


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP so every `finally` runs before we exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def exit_cleanly_on_termination() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception while a server runs (main thread only).

    Python's default for these signals ends the process without running `finally` blocks,
    which would orphan the server. SIGINT already raises KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def raise_terminated(signum: int, _frame: object) -> None:
        raise _Terminated(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_DFL, None):
            previous[signum] = handler
            signal.signal(signum, raise_terminated)
    try:
        yield
    except _Terminated as terminated:
        raise SystemExit(128 + terminated.signum) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP while a server is being stopped, then deliver them.

    A second Ctrl-C must not cut the (bounded) stop short and leave workers behind, nor be
    lost: it is raised again, through the usual handler, once the stop is done.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for signum in saved:
        signal.signal(signum, lambda received, _frame: pending.append(received))
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if pending:
            signal.raise_signal(pending[0])


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a pre-exec hook asking the kernel to SIGTERM the child when we die, even by
    SIGKILL (when no `finally` or atexit can run); the server then stops its own workers."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child only calls it
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def die_with_parent() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return die_with_parent


def spawn_group(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                env: dict[str, str] | None = None, log: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (its own process group), tracked so that an unexpected
    exit of autogen-doctor still kills it (atexit; on Linux also the parent-death signal).
    Stop it with `stop_process_group`."""
    process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=_parent_death_signal())
    with _live_lock:
        _live_processes.add(process)
    return process


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after `grace_s`.

    The group is killed even when its leader already exited: workers may outlive it.
    """
    with _signals_deferred():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _group_alive(process.pid):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    with _live_lock:
        _live_processes.discard(process)


def _group_members(pgid: int) -> set[int] | None:
    """Pids of the group's running processes (zombies excluded); None where /proc is missing."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.add(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running."""
    members = _group_members(pgid)
    if members is not None:
        return bool(members)
    try:  # not Linux: ask the kernel whether the group still exists
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True

