"""`probe --serve`: start the service ourselves, once per worker count, probe it, compare.

Reproduces "works with one worker, breaks with four" on a laptop. The server command is
adapted, not wrapped in a shell: we add the worker count and a loopback bind for the server
it names (uvicorn, gunicorn, hypercorn, also as `python -m ...`), start it in its own process
group, wait until it answers HTTP and until its workers have come up, and stop the whole
group afterwards — on success, on failure, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import httpx

from autogen_doctor.exit_codes import ExitCode, UserError

if TYPE_CHECKING:  # D2 owns the options; only needed for annotations
    from autogen_doctor.probe.options import ProbeOptions

LOOPBACK = "127.0.0.1"
DEFAULT_READY_TIMEOUT_S = 60.0
# How long a stopped server may take to shut down cleanly before its group is killed.
DEFAULT_STOP_GRACE_S = 5.0
# When the service exposes no backend identity we cannot see its workers come up; we wait
# this long per worker after the first answer instead (uvicorn starts workers one by one).
FALLBACK_SETTLE_S_PER_WORKER = 0.5
LOG_TAIL_LINES = 15

# Response headers that name the backend, as in the contract (probe section).
PID_HEADERS = ("x-backend-pid", "x-pid", "x-worker-pid", "x-process-id")
POD_HEADERS = ("x-backend-pod", "x-pod-name", "x-pod", "x-hostname", "x-served-by", "x-instance-id")

SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "<", "2>", "2>&1", "&>"}
# `uv run uvicorn ...` and friends: a wrapper that execs the server inside a project env.
RUNNER_PREFIXES = (("uv", "run"), ("poetry", "run"), ("pipenv", "run"), ("pdm", "run"), ("hatch", "run"))
PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?$")


class ServeError(UserError):
    """The served service could not be started or never answered; carries its log's tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message, ExitCode.USAGE)
        self.log_tail = log_tail


@dataclass(frozen=True)
class ServerFlags:
    """How one server spells the options we set, and the ones we cannot let through."""

    name: str
    workers: tuple[str, ...]
    bind: tuple[str, ...]  # options that choose where it listens
    refused: dict[str, str]  # option -> why --serve cannot run with it
    bind_args: Callable[[str, int], list[str]]


SERVERS: dict[str, ServerFlags] = {
    "uvicorn": ServerFlags(
        name="uvicorn",
        workers=("--workers",),
        bind=("--host", "--port", "--uds", "--fd"),
        refused={
            "--reload": "--reload runs a single process whatever --workers says",
            "--ssl-keyfile": "--serve probes plain HTTP on 127.0.0.1",
            "--ssl-certfile": "--serve probes plain HTTP on 127.0.0.1",
        },
        bind_args=lambda host, port: ["--host", host, "--port", str(port)],
    ),
    "gunicorn": ServerFlags(
        name="gunicorn",
        workers=("-w", "--workers"),
        bind=("-b", "--bind"),
        refused={
            "-D": "a daemonized server leaves our process group and could not be stopped",
            "--daemon": "a daemonized server leaves our process group and could not be stopped",
            "--certfile": "--serve probes plain HTTP on 127.0.0.1",
            "--keyfile": "--serve probes plain HTTP on 127.0.0.1",
        },
        bind_args=lambda host, port: ["--bind", f"{host}:{port}"],
    ),
    "hypercorn": ServerFlags(
        name="hypercorn",
        workers=("-w", "--workers"),
        bind=("-b", "--bind", "--insecure-bind", "--quic-bind"),
        refused={
            "--certfile": "--serve probes plain HTTP on 127.0.0.1",
            "--keyfile": "--serve probes plain HTTP on 127.0.0.1",
        },
        bind_args=lambda host, port: ["--bind", f"{host}:{port}"],
    ),
}


@dataclass(frozen=True)
class ServerCommand:
    """A server command line adapted to one worker count and one loopback port."""

    server: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # leading `NAME=value` assignments
    workers: int = 1
    port: int = 0

    @property
    def display(self) -> str:
        """The command as a shell would show it, secrets in the assignments redacted."""
        from autogen_doctor.probe.redact import REDACTED, is_secret_name, redact_url

        assignments = [
            f"{name}={REDACTED if is_secret_name(name) else shlex.quote(redact_url(value))}"
            for name, value in self.env.items()
        ]
        return " ".join([*assignments, shlex.join(self.argv)])


def _option_name(token: str, known: Sequence[str]) -> str | None:
    """The option of `known` that `token` spells (`--workers`, `--workers=4`, `-w4`), if any."""
    for option in known:
        if token == option:
            return option
        if option.startswith("--") and token.startswith(option + "="):
            return option
        if len(option) == 2 and token.startswith(option) and not token.startswith("--"):
            return option  # `-w4`: a short option with its value attached
    return None


def _split_command(command: str | Sequence[str]) -> list[str]:
    if isinstance(command, str):
        try:
            tokens = shlex.split(command)
        except ValueError as error:
            raise UserError(f"--serve: cannot parse the command ({error})") from error
    else:
        tokens = [str(token) for token in command]
    if not tokens:
        raise UserError("--serve needs a server command, e.g. --serve \"uvicorn app:api\"")
    for token in tokens:
        if token in SHELL_OPERATORS or token.startswith("$(") or "`" in token:
            raise UserError(
                f"--serve runs one server command without a shell; remove {token!r} "
                "(set environment variables as NAME=value before the command)"
            )
    return tokens


def _locate_server(tokens: list[str]) -> tuple[list[str], str, list[str]]:
    """Split tokens into (launcher, server name, server arguments)."""
    head = tokens[0]
    for runner in RUNNER_PREFIXES:
        if tuple(tokens[: len(runner)]) == runner and len(tokens) > len(runner):
            launcher, server, rest = _locate_server(tokens[len(runner):])
            return [*runner, *launcher], server, rest
    name = os.path.basename(head)
    if name in SERVERS:
        return [head], name, tokens[1:]
    if PYTHON_NAME.match(name):
        index = 1
        while index < len(tokens) and tokens[index].startswith("-") and tokens[index] != "-m":
            index += 2 if tokens[index] in ("-X", "-W") else 1
        if index + 1 < len(tokens) and tokens[index] == "-m" and tokens[index + 1] in SERVERS:
            return tokens[: index + 2], tokens[index + 1], tokens[index + 2:]
    raise UserError(
        f"--serve cannot adapt {shlex.join(tokens)!r}: it needs a uvicorn, gunicorn or hypercorn "
        "command (or `python -m uvicorn ...`); for anything else, start the service yourself "
        "and run `autogen-doctor probe URL`"
    )


def adapt_command(
    command: str | Sequence[str], workers: int, port: int, *, host: str = LOOPBACK
) -> ServerCommand:
    """Add the worker count and the loopback bind to a server command line.

    Refuses (UserError) a command it cannot adapt: not a known server, shell syntax, or
    options that would fight ours (`--workers`, `--port`/`--bind`, `--reload`, TLS, daemon mode).
    """
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    tokens = _split_command(command)
    env: dict[str, str] = {}
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        env[name] = value
    if not tokens:
        raise UserError("--serve needs a server command after the NAME=value assignments")
    launcher, server, arguments = _locate_server(tokens)
    flags = SERVERS[server]
    for token in arguments:
        if _option_name(token, flags.workers):
            raise UserError(
                f"--serve: remove {token.split('=')[0]!r} from the command; "
                "autogen-doctor sets the worker count from --workers"
            )
        if _option_name(token, flags.bind):
            raise UserError(
                f"--serve: remove {token.split('=')[0]!r} from the command; autogen-doctor binds "
                f"the server to {host} (choose the port with --port)"
            )
        refused = _option_name(token, tuple(flags.refused))
        if refused:
            raise UserError(f"--serve cannot run a command with {refused}: {flags.refused[refused]}")
    launcher = _resolve_launcher(launcher, server)
    argv = [*launcher, *arguments, "--workers", str(workers), *flags.bind_args(host, port)]
    return ServerCommand(server=server, argv=tuple(argv), env=env, workers=workers, port=port)


def _resolve_launcher(launcher: list[str], server: str) -> list[str]:
    # A bare `uvicorn` that is not on PATH but importable here (a venv not activated):
    # run it with this interpreter rather than fail.
    if len(launcher) == 1 and shutil.which(launcher[0]) is None and os.sep not in launcher[0]:
        if importlib.util.find_spec(server) is not None:
            return [sys.executable, "-m", server]
    return launcher


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


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


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
    reach every worker that is up. Without identity headers we cannot count, and wait a
    fixed FALLBACK_SETTLE_S_PER_WORKER per worker instead.
    """
    if workers <= 1:
        return
    seen: set[tuple[str, ...]] = set()
    anonymous_rounds = 0

    def one_request(_: int) -> tuple[str, ...] | None:
        try:
            return _identity(client.get(base_url + "/"), identity_headers)
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
) -> Iterator[str]:
    """Run a server command with `workers` workers on 127.0.0.1 until the block ends.

    Yields the base URL (`http://127.0.0.1:PORT`) once the server answers HTTP (any status)
    and its workers have come up. The server runs in its own process group, which is stopped
    (SIGTERM, then SIGKILL after `stop_grace_s`) when the block ends for any reason,
    including KeyboardInterrupt and SIGTERM. Raises ServeError (a UserError, with the tail
    of the server's log) if it exits early or does not answer within `ready_timeout_s`.
    `identity_headers` adds response headers that name a worker to the contract's common ones
    (used to see every worker come up; `notify` receives notes such as a worker that never did).
    """
    say = notify or (lambda _message: None)
    chosen_port = port or free_port()
    adapted = adapt_command(command, workers, chosen_port)
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


@dataclass
class ServedRun:
    """One worker count's outcome: a verdict with its transcript, or the error that stopped it."""

    workers: int
    command: str
    verdict: Any = None
    transcript: Any = None
    error: str | None = None
    exit_code: int = 0


def workers_label(workers: int) -> str:
    return f"{workers} worker" if workers == 1 else f"{workers} workers"


def summarize_run(run: ServedRun) -> str:
    """One short phrase per run: `state-loss (process-local-state)`, `no loss seen (inconclusive: one backend)`."""
    if run.error is not None:
        return f"error: {run.error}"
    verdict = run.verdict
    name = getattr(verdict, "verdict", "?")
    backends = list(getattr(verdict, "backends", None) or [])
    if name == "state-loss":
        return f"state-loss ({getattr(verdict, 'cause', None) or 'unknown cause'})"
    if name == "pass":
        return f"pass (memory held across {len(backends)} backends)"
    if name == "inconclusive":
        if len(backends) <= 1:
            why = "one backend"
        else:
            why = getattr(verdict, "reason", None) or "no session changed backend"
        return f"no loss seen (inconclusive: {why})"
    return str(name)


def serve_exit_code(runs: Sequence[ServedRun]) -> int:
    """The exit code of a --serve comparison. See docs/demo.md.

    State loss in any run fails (1): it is proof. Otherwise a run that could not be probed
    gives 2. Otherwise the multi-worker runs decide (inconclusive 3, else pass 0); a
    single-worker run is expected to be inconclusive and only decides when it is the only run.
    """
    if any(run.error is None and run.exit_code == ExitCode.FINDINGS for run in runs):
        return int(ExitCode.FINDINGS)
    if any(run.error is not None for run in runs):
        return int(ExitCode.USAGE)
    deciding = [run for run in runs if run.workers > 1] or list(runs)
    if any(run.exit_code == ExitCode.INCONCLUSIVE for run in deciding):
        return int(ExitCode.INCONCLUSIVE)
    return max((run.exit_code for run in deciding), default=int(ExitCode.OK))


def _suffixed(path: str | os.PathLike[str] | None, workers: int) -> str | None:
    """`run.jsonl` -> `run.4w.jsonl`: one file per worker count."""
    if path in (None, "", "-"):
        return path  # type: ignore[return-value]
    target = Path(path)
    return str(target.with_name(f"{target.stem}.{workers}w{target.suffix}"))


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
    check_options(options)  # usage errors before any server starts
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

    adapt_command(command, max(counts), 0)  # refuse a command we cannot adapt before starting anything
    if fmt == "html" and len(counts) > 1 and getattr(options, "output", None) in (None, "", "-"):
        raise UserError("--format html with several worker counts needs --output FILE.html "
                        "(one page per count: FILE.1w.html, FILE.4w.html, ...)")
    runs: list[ServedRun] = []
    for workers in counts:
        run = ServedRun(workers=workers, command=command)
        try:
            with served(command, workers, port=getattr(options, "port", None),
                        ready_timeout_s=ready_timeout, notify=note,
                        identity_headers=identity_headers) as base_url:
                note(f"serving {workers_label(workers)} on {base_url}; probing {path}")
                try:
                    probed = run_probe(_options_for_run(options, workers, base_url + path),
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


def _options_for_run(options: Any, workers: int, url: str) -> Any:
    """Per-run copy of the options: this run's URL and a --record file per worker count."""
    if not dataclasses.is_dataclass(options):
        return options
    changes: dict[str, Any] = {}
    names = {item.name for item in dataclasses.fields(options)}
    if "url" in names:
        changes["url"] = url
    if "record" in names and getattr(options, "record", None):
        changes["record"] = Path(_suffixed(options.record, workers))
    return dataclasses.replace(options, **changes)


def comparison_lines(runs: Sequence[ServedRun], *, align: bool = True) -> list[str]:
    """`1 worker: no loss seen (inconclusive: one backend)` and so on, one line per run."""
    width = max((len(workers_label(run.workers)) for run in runs), default=0) + 1 if align else 0
    return [f"{(workers_label(run.workers) + ':').ljust(width)} {summarize_run(run)}" for run in runs]


def conclusion(runs: Sequence[ServedRun]) -> str | None:
    """The sentence a person draws from the comparison, when there is one to draw."""
    single = [run for run in runs if run.workers == 1 and run.error is None]
    multi_loss = [run for run in runs if run.workers > 1 and run.error is None
                  and getattr(run.verdict, "verdict", None) == "state-loss"]
    single_ok = single and all(getattr(run.verdict, "verdict", None) != "state-loss" for run in single)
    if single_ok and multi_loss:
        first = multi_loss[0]
        return (f"Works with one worker, loses memory with {first.workers}: conversation state lives "
                "in each worker's memory (see `autogen-doctor scan`, rules AD1/AD4).")
    if any(getattr(run.verdict, "verdict", None) == "state-loss" for run in single):
        return "Memory is lost even with one worker: state is not restored between turns."
    multi = [run for run in runs if run.workers > 1]
    if multi and all(run.error is None and getattr(run.verdict, "verdict", None) == "pass" for run in multi):
        return "Memory held across workers: state survives a change of backend."
    return None


def _render(verdict: Any, transcript: Any, fmt: str, color: bool) -> str:
    from autogen_doctor.probe.reporters import render  # D1's

    return render(verdict, transcript, fmt, color=color)


def _report(runs: Sequence[ServedRun], options: Any, fmt: str) -> None:
    output = getattr(options, "output", None)
    color = bool(getattr(options, "color", None)) if getattr(options, "color", None) is not None else (
        output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    if fmt == "json":
        document = _json_document(runs, options)
        import json

        _write(json.dumps(document, indent=2) + "\n", output)
        return
    if fmt == "html":
        # One self-contained page per worker count: FILE.1w.html, FILE.4w.html.
        for run in runs:
            if run.error is None:
                target = _suffixed(output, run.workers) if output else None
                _write(_render(run.verdict, run.transcript, "html", False), target)
        _print_comparison(runs, sys.stderr if output is None else sys.stdout)
        return
    if fmt == "junit":
        _write(_junit_document(runs, options), output)
        return
    parts: list[str] = []
    heading = "## {label}: `{command}`\n" if fmt == "markdown" else "=== {label}: {command} ===\n"
    for run in runs:
        parts.append(heading.format(label=workers_label(run.workers), command=run.command))
        if run.error is not None:
            parts.append(f"error: {run.error}\n")
        else:
            parts.append(_render(run.verdict, run.transcript, fmt, color and fmt == "text").rstrip() + "\n")
        parts.append("\n")
    lines = comparison_lines(runs)
    summary = conclusion(runs)
    if fmt == "markdown":
        parts.append("## Comparison\n\n" + "".join(f"- {line}\n" for line in lines))
        if summary:
            parts.append(f"\n{summary}\n")
    else:
        parts.append(f"Comparison ({command_label(runs)}):\n" + "".join(f"  {line}\n" for line in lines))
        if summary:
            parts.append(summary + "\n")
    _write("".join(parts), output)


def command_label(runs: Sequence[ServedRun]) -> str:
    return runs[0].command if runs else ""


def _print_comparison(runs: Sequence[ServedRun], stream: Any) -> None:
    print("Comparison:", file=stream)
    for line in comparison_lines(runs):
        print(f"  {line}", file=stream)
    summary = conclusion(runs)
    if summary:
        print(summary, file=stream)


def _json_document(runs: Sequence[ServedRun], options: Any) -> dict[str, Any]:
    from autogen_doctor import __version__

    items: list[dict[str, Any]] = []
    for run in runs:
        item: dict[str, Any] = {"workers": run.workers, "summary": summarize_run(run), "exit_code": run.exit_code}
        if run.error is not None:
            item["error"] = run.error
        else:
            item["result"] = run.verdict.to_json() if callable(getattr(run.verdict, "to_json", None)) else None
        items.append(item)
    return {
        "serve": getattr(options, "serve", None),
        "runs": items,
        "comparison": "; ".join(comparison_lines(runs, align=False)),
        "exit_code": serve_exit_code(runs),
        "version": __version__,
    }


def _junit_document(runs: Sequence[ServedRun], options: Any) -> str:
    """One <testsuites> holding each run's suites, renamed after its worker count."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.Element("testsuites", name="autogen-doctor probe --serve")
    for run in runs:
        label = workers_label(run.workers)
        if run.error is not None:
            suite = ElementTree.SubElement(root, "testsuite", name=f"probe ({label})", tests="1", errors="1")
            case = ElementTree.SubElement(suite, "testcase", name=f"state survives ({label})")
            ElementTree.SubElement(case, "error", message=run.error)
            continue
        rendered = ElementTree.fromstring(_render(run.verdict, run.transcript, "junit", False))
        suites = [rendered] if rendered.tag == "testsuite" else list(rendered.iter("testsuite"))
        for suite in suites:
            suite.set("name", f"{suite.get('name', 'probe')} ({label})")
            root.append(suite)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _write(text: str, output: str | os.PathLike[str] | None) -> None:
    if output in (None, "", "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write {output}: {error.strerror or error}") from error
