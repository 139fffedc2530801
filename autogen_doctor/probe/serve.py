"""`probe --serve`: start the service ourselves, once per worker count, probe it, compare.

The parts live in their own modules: `server_command` (adapting the command line), `process`
(starting and stopping the process tree), `readiness` (waiting for the workers) and
`comparison` (the report across worker counts); this module runs them in order.

Reproduces "works with one worker, breaks with four" on a laptop. The server command is
adapted, not wrapped in a shell: we add the worker count and a loopback bind for the server
it names (uvicorn, gunicorn, hypercorn, also as `python -m ...`), start it in its own process
group, wait until it answers HTTP and until its workers have come up, and stop the whole
group afterwards — on success, on failure, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.redact import redact_assignments
from autogen_doctor.probe.comparison import (  # noqa: F401 - public names, re-exported
    ServedRun, comparison_lines, conclusion, serve_exit_code, summarize_run, workers_label, _report, _suffixed,
)
from autogen_doctor.probe.process import (  # noqa: F401 - public names, re-exported
    DEFAULT_STOP_GRACE_S, LOOPBACK, exit_cleanly_on_termination, free_port, spawn_group, stop_process_group,
)
from autogen_doctor.probe.readiness import (  # noqa: F401 - public names, re-exported
    FALLBACK_SETTLE_S_PER_WORKER, _wait_for_workers, _wait_until_answering,
)
from autogen_doctor.probe.server_command import (  # noqa: F401 - public names, re-exported
    SERVERS, ServeError, ServerCommand, adapt_command,
)

if TYPE_CHECKING:  # D2 owns the options; only needed for annotations
    from autogen_doctor.probe.options import ProbeOptions

DEFAULT_READY_TIMEOUT_S = 60.0
# Public names kept importable from here (tests, the demo, tests/support) after the split.
__all__ = [
    "DEFAULT_READY_TIMEOUT_S", "DEFAULT_STOP_GRACE_S", "FALLBACK_SETTLE_S_PER_WORKER", "LOOPBACK", "SERVERS",
    "ServeError", "ServedRun", "ServerCommand", "adapt_command", "comparison_lines", "conclusion",
    "exit_cleanly_on_termination", "free_port", "run_serve", "serve_exit_code", "served", "spawn_group",
    "stop_process_group", "summarize_run", "workers_label",
]


@contextlib.contextmanager
def served(
    command: str | Sequence[str],
    workers: int,
    *,
    port: int | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    notify: Callable[[str], None] | None = None,
    identity_headers: Sequence[str] = (),
    on_spawn: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """Run a server command with `workers` workers on 127.0.0.1 until the block ends.

    Yields the base URL (`http://127.0.0.1:PORT`) once the server answers HTTP (any status)
    and its workers have come up. The server runs in its own process group, which is stopped
    (SIGTERM, then SIGKILL after `stop_grace_s`) when the block ends for any reason,
    including KeyboardInterrupt and SIGTERM. Raises ServeError (a UserError, with the tail
    of the server's log) if it exits early or does not answer within `ready_timeout_s`.
    `identity_headers` adds response headers that name a worker to the contract's common ones
    (used to see every worker come up; `notify` receives notes such as a worker that never did).
    `on_spawn` receives the served process's PID as soon as it starts (the root of the process
    tree whose workers the OS can name, see `os_identity`).
    """
    say = notify or (lambda _message: None)
    chosen_port = port or free_port()
    adapted = adapt_command(command, workers, chosen_port, environ={**os.environ, **(env or {})}, cwd=cwd)
    base_url = f"http://{LOOPBACK}:{chosen_port}"
    if port and _port_in_use(chosen_port):
        raise UserError(f"--port {chosen_port} is already in use on {LOOPBACK}")
    full_env = {**os.environ, **adapted.env, **(env or {}), "PYTHONUNBUFFERED": "1"}
    log_file = tempfile.NamedTemporaryFile(prefix="autogen-doctor-serve-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    process: subprocess.Popen[bytes] | None = None
    try:
        with exit_cleanly_on_termination():
            try:
                process = spawn_group(adapted.argv, cwd=cwd, env=full_env, log=log_file)
            except OSError as error:
                raise UserError(f"--serve cannot start {adapted.argv[0]!r}: {error.strerror or error}") from error
            if on_spawn is not None:
                on_spawn(process.pid)
            try:
                deadline = time.monotonic() + ready_timeout_s
                _wait_until_answering(process, base_url, workers, deadline, log_path, adapted.display)
                _wait_for_workers(process, base_url, workers, deadline, say, identity_headers)
                yield base_url
            finally:
                stop_process_group(process, stop_grace_s)
    finally:
        log_file.close()
        with contextlib.suppress(OSError):
            log_path.unlink()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


# --- the --serve run --------------------------------------------------------------------

def _path_part(options: Any) -> str:
    url = getattr(options, "url", None) or "/chat"
    if url.startswith(("http://", "https://")):
        raise UserError("with --serve, give the endpoint as a path (e.g. /chat), not a full URL")
    return url if url.startswith("/") else "/" + url


def _worker_counts(options: Any) -> list[int]:
    counts = getattr(options, "workers", None) or [1, 4]
    if isinstance(counts, int):
        counts = [counts]
    counts = [int(count) for count in counts]
    if any(count < 1 for count in counts):
        raise UserError("--workers takes positive worker counts, e.g. --workers 1,4")
    return counts


def run_serve(options: "ProbeOptions") -> int:
    """`probe --serve CMD --workers 1,4`: serve, probe and stop once per worker count, compare.

    Prints each run's report (the chosen --format) and, in text, a comparison line per run;
    returns the exit code of `serve_exit_code`.
    """
    from autogen_doctor.probe.command import check_options, run_probe  # imported late: CLI stays fast

    counts = _worker_counts(options)
    websocket = getattr(options, "ws", None) is not None  # --preset / --ws-* flags: a WebSocket service
    # Usage errors before any server starts.
    if websocket:
        from autogen_doctor.probe.ws.command import check_ws_options

        check_ws_options(options)
    else:
        check_options(options)
    path = _path_part(options)
    fmt = getattr(options, "fmt", None) or getattr(options, "format", None) or "text"
    quiet = bool(getattr(options, "quiet", False))
    progress = sys.stderr.isatty() and not quiet
    ready_timeout = float(getattr(options, "ready_timeout", None) or DEFAULT_READY_TIMEOUT_S)
    command = options.serve
    identity_headers = [name for name in (getattr(options, "pid_header", None),
                                          getattr(options, "pod_header", None)) if name]

    def note(message: str) -> None:
        if not quiet:
            print(f"autogen-doctor: {message}", file=sys.stderr, flush=True)

    adapt_command(command, max(counts), 0, environ=os.environ)  # refuse what we cannot adapt before starting anything
    _check_serve_outputs(options, counts, fmt)
    if fmt == "html" and len(counts) > 1 and getattr(options, "output", None) in (None, "", "-"):
        raise UserError("--format html with several worker counts needs --output FILE.html "
                        "(one page per count: FILE.1w.html, FILE.4w.html, ...)")
    runs: list[ServedRun] = []
    for workers in counts:
        # The command as every report shows it: environment secrets and URL credentials redacted.
        run = ServedRun(workers=workers, command=redact_assignments(command))
        spawned: list[int] = []
        try:
            with served(command, workers, port=getattr(options, "port", None),
                        ready_timeout_s=ready_timeout, notify=note,
                        identity_headers=identity_headers, on_spawn=spawned.append) as base_url:
                note(f"serving {workers_label(workers)} on {base_url}; probing {path}")
                try:
                    served_pid = spawned[0] if spawned else None
                    if websocket:
                        from autogen_doctor.probe.ws.command import run_ws_probe

                        target = "ws://" + base_url.split("://", 1)[1] + path
                        probed = run_ws_probe(_options_for_run(options, workers, target, served_pid=served_pid),
                                              progress=progress)
                    else:
                        probed = run_probe(_options_for_run(options, workers, base_url + path, served_pid=served_pid),
                                           base_url + path, progress=progress)
                except UserError as error:  # e.g. every request failed: the other counts still run
                    run.error, run.exit_code = str(error), int(error.exit_code)
                else:
                    run.verdict, run.transcript = probed.verdict, probed.transcript
                    run.exit_code = int(run.verdict.exit_code())
                    if getattr(probed, "note", None):
                        note(f"note ({workers_label(workers)}): {probed.note}")
        except (KeyboardInterrupt, SystemExit) as stopped:
            # typer turns Ctrl-C into a silent exit 130, SIGTERM exits 143: say what became of the service.
            if isinstance(stopped, KeyboardInterrupt) or stopped.code in (128 + signal.SIGTERM, 128 + signal.SIGHUP):
                print(f"autogen-doctor: interrupted; the service ({workers_label(workers)}) was stopped",
                      file=sys.stderr, flush=True)
            raise
        except ServeError as error:
            # The same command would fail the same way for the other counts: stop here.
            if error.log_tail:
                print("--- last lines of the service's log ---", file=sys.stderr)
                print(error.log_tail, file=sys.stderr)
                print("---", file=sys.stderr, flush=True)
            if runs:  # what the earlier worker counts showed still counts
                _report(runs, options, fmt)
            raise
        runs.append(run)
    _report(runs, options, fmt)
    return serve_exit_code(runs)


def _check_serve_outputs(options: "ProbeOptions", counts: list[int], fmt: str) -> None:
    """--record/--output of a --serve run: every file it will write, checked before a server starts."""
    from autogen_doctor.probe.command import check_output_paths

    names: list[tuple[str, Path]] = []
    if options.record is not None:
        names += [("--record", Path(_suffixed(options.record, count))) for count in counts]
    if options.output not in (None, "", "-"):
        if fmt == "html":
            names += [("--output", Path(_suffixed(options.output, count))) for count in counts]
        else:
            names.append(("--output", Path(options.output)))
    check_output_paths(options, names)


def _options_for_run(options: Any, workers: int, url: str, *, served_pid: int | None = None) -> Any:
    """Per-run copy of the options: this run's URL, a --record file per worker count, and the
    served process's PID, so that the OS names the worker of every reply when the service itself
    does not (no autogen_doctor.middleware, no --pid-header/--pid-path match)."""
    if not dataclasses.is_dataclass(options):
        return options
    changes: dict[str, Any] = {}
    names = {item.name for item in dataclasses.fields(options)}
    if "os_identity_root" in names and served_pid is not None:
        changes["os_identity_root"] = served_pid
    if "url" in names:
        changes["url"] = url
    if "record" in names and getattr(options, "record", None):
        changes["record"] = Path(_suffixed(options.record, workers))
    return dataclasses.replace(options, **changes)

