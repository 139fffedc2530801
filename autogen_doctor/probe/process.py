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
# How often the descendants of a started server are looked up while it runs.
TRACK_EVERY_S = 0.1


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state ppid pgrp session ... starttime (index 19)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields if len(fields) > 19 else None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


class DescendantTracker:
    """Every process a started server forks, remembered while it runs (Linux /proc).

    A worker may leave the server's process group (setpgid) or session (setsid), and once its
    parent exits it is re-parented away from the tree: a kill of the group alone misses it. The
    tracker walks the tree from the leader every TRACK_EVERY_S and keeps (pid, start time) of each
    descendant, so the stop reaches each of them and never a recycled pid.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.known: dict[int, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if Path(f"/proc/{root}/task").is_dir():
            self._thread = threading.Thread(target=self._run, name=f"track-{root}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(TRACK_EVERY_S)

    def poll(self) -> None:
        """Add the current descendants of the root (and of every known descendant)."""
        with self._lock:
            stack = [self.root, *self.known]
        seen = set(stack)
        while stack:
            for child in _children(stack.pop()):
                if child in seen:
                    continue
                seen.add(child)
                fields = _stat_fields(child)
                if fields is not None:
                    with self._lock:
                        self.known.setdefault(child, fields[19])
                    stack.append(child)

    def alive(self) -> list[int]:
        """Known descendants still running as the same process (zombies excluded)."""
        with self._lock:
            known = dict(self.known)
        living = []
        for pid, started in known.items():
            fields = _stat_fields(pid)
            if fields is not None and fields[19] == started and fields[0] not in ("Z", "X"):
                living.append(pid)
        return living

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


_trackers: dict[int, DescendantTracker] = {}


def _tree(process: subprocess.Popen[bytes]) -> set[int]:
    """Every running process of the server: its group, its session, and its tracked descendants."""
    members = _members(lambda fields: fields[2] == str(process.pid) or fields[3] == str(process.pid)) or set()
    tracker = _trackers.get(process.pid)
    if tracker is not None:
        tracker.poll()
        members |= set(tracker.alive())
    members.discard(os.getpid())
    return members


def _signal_tree(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
    for pid in _tree(process):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _kill_leftovers() -> None:
    """atexit: whatever a crash left running dies with us."""
    with _live_lock:
        leftovers = list(_live_processes)
    for process in leftovers:
        _signal_tree(process, signal.SIGKILL)


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
        _trackers[process.pid] = DescendantTracker(process.pid)
    return process


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
    """SIGTERM the server's whole tree, SIGKILL whatever is left after `grace_s`.

    The tree is its process group, its session, and every descendant seen while it ran (a
    worker that called setpgid or setsid included). It is stopped even when the leader already
    exited: workers may outlive it.
    """
    with _signals_deferred():
        if process.poll() is None or _tree(process):
            _signal_tree(process, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and (_tree(process) if _proc_available() else _group_alive(process.pid)):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05)
        _signal_tree(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _tree(process):  # SIGKILL is not instant
            time.sleep(0.02)
    with _live_lock:
        _live_processes.discard(process)
        tracker = _trackers.pop(process.pid, None)
    if tracker is not None:
        tracker.close()


def _proc_available() -> bool:
    return Path("/proc/self/stat").is_file()


def _members(matches: Callable[[list[str]], bool]) -> set[int] | None:
    """Pids of running processes (zombies excluded) whose stat fields match; None without /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and fields[0] not in ("Z", "X") and matches(fields):
            members.add(int(entry.name))
    return members


def _group_members(pgid: int) -> set[int] | None:
    """Pids of the group's running processes (zombies excluded); None where /proc is missing."""
    return _members(lambda fields: fields[2] == str(pgid))


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

