"""`--serve` command adaptation: recognise uvicorn/gunicorn/hypercorn, add workers and a loopback bind,
refuse what would fight the probe (its own worker count or bind, reload, TLS, daemon mode).

Nothing here starts a process; `probe.process` does that.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

from autogen_doctor.exit_codes import ExitCode, UserError

LOOPBACK = "127.0.0.1"
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

