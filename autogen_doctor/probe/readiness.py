"""`--serve` readiness: wait until the started server answers HTTP and its workers have come up,
failing fast (with the tail of its log) when it exits or crash-loops."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import httpx

from autogen_doctor.probe.os_identity import identify_http_response, os_identity_unavailable
from autogen_doctor.probe.process import _group_members
from autogen_doctor.probe.server_command import ServeError
from autogen_doctor.textsafe import escape_text

# When neither the service (identity headers) nor the OS (/proc) can name the worker of a
# reply, we cannot see the workers come up; we wait this long per worker after the first
# answer instead (uvicorn starts workers one by one).
FALLBACK_SETTLE_S_PER_WORKER = 0.5
LOG_TAIL_LINES = 15

# Response headers that name the backend, as in the contract (probe section).
PID_HEADERS = ("x-backend-pid", "x-pid", "x-worker-pid", "x-process-id")
POD_HEADERS = ("x-backend-pod", "x-pod-name", "x-pod", "x-hostname", "x-served-by", "x-instance-id")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the server's log, each escaped (a log may carry terminal escapes)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(escape_text(line) for line in text.rstrip().splitlines()[-lines:])


def _fresh_connection_client(timeout_s: float) -> httpx.Client:
    """A client that opens a new connection per request (so the kernel picks a worker each
    time) while sharing one TLS context: building a context per request costs ~50 ms."""
    return httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_keepalive_connections=0),
                        follow_redirects=False)


def _identity(response: httpx.Response, extra_headers: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The backend named by a response's headers (the contract's common ones plus `extra_headers`)."""
    names = [*(name.lower() for name in extra_headers), *PID_HEADERS, *POD_HEADERS]
    values = tuple(f"{name}={response.headers[name]}" for name in names if name in response.headers)
    return values or None


def _wait_until_answering(process: subprocess.Popen[bytes], base_url: str, workers: int,
                          deadline: float, log_path: Path, display: str) -> None:
    """Poll until the server answers HTTP; fail fast when it exits or its workers crash-loop.

    A supervisor (uvicorn --workers N) keeps replacing workers that die at import, so it never
    exits: we count processes of its group that came and went, and give up once more have died
    than a healthy start plausibly explains.
    """
    seen: set[int] = set()
    with _fresh_connection_client(1.0) as client:
        _poll_until_answering(client, process, base_url, workers, deadline, log_path, display, seen)


def _poll_until_answering(client: httpx.Client, process: subprocess.Popen[bytes], base_url: str,
                          workers: int, deadline: float, log_path: Path, display: str,
                          seen: set[int]) -> None:
    while True:
        if process.poll() is not None:
            raise ServeError(
                f"the service exited with code {process.returncode} before it answered "
                f"on {base_url} ({display})",
                _tail(log_path),
            )
        members = _group_members(process.pid)
        if members is not None:
            seen |= members
            if len(seen - members) >= 2 * workers + 2:
                raise ServeError(
                    f"the service's workers keep exiting before it answers on {base_url} ({display})",
                    _tail(log_path),
                )
        try:
            client.get(base_url + "/")
            return  # any status: it is up
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            raise ServeError(
                f"the service did not answer on {base_url} within the ready timeout ({display})",
                _tail(log_path),
            )
        time.sleep(0.1)


def _wait_for_workers(process: subprocess.Popen[bytes], base_url: str, workers: int,
                      deadline: float, notify: Callable[[str], None],
                      identity_headers: Sequence[str] = ()) -> None:
    """Poll with fresh connections until `workers` distinct backends have answered.

    Idle workers race to accept each new connection, so a few rounds of parallel requests
    reach every worker that is up. A backend is named by its identity headers or, when the
    service sends none, by the OS: the worker process of the served tree that holds the
    connection (`os_identity`, asked while the reply is open). Only when neither can name
    it (no headers, no /proc) do we wait a fixed FALLBACK_SETTLE_S_PER_WORKER per worker.
    """
    if workers <= 1:
        return
    seen: set[tuple[str, ...]] = set()
    anonymous_rounds = 0
    os_root = process.pid if os_identity_unavailable() is None else None

    def one_request(_: int) -> tuple[str, ...] | None:
        try:
            with client.stream("GET", base_url + "/") as response:
                named = _identity(response, identity_headers)
                if named is None and os_root is not None:  # the connection is still open: ask the OS
                    pid = identify_http_response(response, os_root).pid
                    named = (f"os pid={pid}",) if pid is not None else None
                response.read()
                return named
        except httpx.HTTPError:
            return None

    with ThreadPoolExecutor(max_workers=min(2 * workers, 16)) as pool, _fresh_connection_client(2.0) as client:
        while True:
            if process.poll() is not None:
                return  # the caller's probe will fail with a clear error; nothing to wait for
            found = [identity for identity in pool.map(one_request, range(2 * workers)) if identity]
            seen.update(found)
            if len(seen) >= workers:
                return
            if not seen:
                anonymous_rounds += 1
                if anonymous_rounds >= 3:
                    time.sleep(min(FALLBACK_SETTLE_S_PER_WORKER * workers, max(0.0, deadline - time.monotonic())))
                    return
            if time.monotonic() >= deadline:
                notify(f"only {len(seen)} of {workers} workers answered before the ready timeout; probing anyway")
                return
            time.sleep(0.2)

