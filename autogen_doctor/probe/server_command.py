"""`--serve` command adaptation: recognise uvicorn/gunicorn/hypercorn, add workers and a loopback bind,
refuse what would fight the probe (its own worker count or bind, reload, TLS, daemon mode).

Nothing here starts a process; `probe.process` does that.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.textsafe import escape_text

LOOPBACK = "127.0.0.1"
SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "<", "2>", "2>&1", "&>"}
# `uv run uvicorn ...` and friends: a wrapper that execs the server inside a project env.
RUNNER_PREFIXES = (("uv", "run"), ("poetry", "run"), ("pipenv", "run"), ("pdm", "run"), ("hatch", "run"))
PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?$")


DAEMON_WHY = "a daemonized server leaves our process tree and could not be stopped"
RELOAD_WHY = "reload mode runs a watcher process whose workers --serve cannot count or stop reliably"
# Environment variables that switch a server into a mode --serve refuses (uvicorn reads every
# option from UVICORN_<NAME>; gunicorn reads a whole command line from GUNICORN_CMD_ARGS).
_TRUE = {"1", "true", "t", "yes", "y", "on"}
MAX_CONFIG_BYTES = 1024 * 1024


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
    # one-letter options that take no value, so argparse lets them be bundled (`-RD` = `-R -D`)
    switches: tuple[str, ...] = ()


SERVERS: dict[str, ServerFlags] = {
    "uvicorn": ServerFlags(
        name="uvicorn",
        workers=("--workers",),
        bind=("--host", "--port", "--uds", "--fd"),
        refused={
            "--reload": RELOAD_WHY,
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
            "-D": DAEMON_WHY,
            "--daemon": DAEMON_WHY,
            "--reload": RELOAD_WHY,
            "--certfile": "--serve probes plain HTTP on 127.0.0.1",
            "--keyfile": "--serve probes plain HTTP on 127.0.0.1",
        },
        bind_args=lambda host, port: ["--bind", f"{host}:{port}"],
        switches=("-D", "-R", "-v", "-h"),
    ),
    "hypercorn": ServerFlags(
        name="hypercorn",
        workers=("-w", "--workers"),
        bind=("-b", "--bind", "--insecure-bind", "--quic-bind"),
        refused={
            "--reload": RELOAD_WHY,
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
        from autogen_doctor.probe.redact import redact_assignments

        assignments = [shlex.quote(f"{name}={value}") for name, value in self.env.items()]
        return redact_assignments(" ".join([*assignments, shlex.join(self.argv)]))


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


def _bundled_options(token: str, switches: Sequence[str]) -> list[str]:
    """The options a bundle of short flags spells, each as its own token: `-RDw4` -> `-R -D -w4`.

    argparse reads `-RD` as `-R -D` when `-R` takes no value; the first letter that is not a
    switch starts the last option, and the rest of the bundle is its value.
    """
    if len(token) <= 2 or token.startswith("--") or not token.startswith("-") or token[:2] not in switches:
        return [token]
    options: list[str] = []
    for index in range(1, len(token)):
        option = "-" + token[index]
        if option not in switches:
            options.append("-" + token[index:])
            break
        options.append(option)
    return options


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
    command: str | Sequence[str], workers: int, port: int, *, host: str = LOOPBACK,
    environ: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
) -> ServerCommand:
    """Add the worker count and the loopback bind to a server command line.

    Refuses (UserError) a command it cannot adapt: not a known server, shell syntax, or
    options that would fight ours (`--workers`, `--port`/`--bind`, `--reload`, TLS, daemon mode),
    however they are spelled: on the command line, in `environ` plus the command's NAME=value
    assignments (GUNICORN_CMD_ARGS, UVICORN_RELOAD), or in a config file the server would read
    from `cwd` (read as text with `ast`/`tomllib`, never run).
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
    for token in (option for argument in arguments for option in _bundled_options(argument, flags.switches)):
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
    _refuse_modes_from_environment(server, {**(environ or {}), **env})
    _refuse_modes_from_config(server, arguments, Path(cwd) if cwd is not None else Path.cwd())
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



def _refuse_modes_from_environment(server: str, environ: Mapping[str, str]) -> None:
    if server == "uvicorn":
        if environ.get("UVICORN_RELOAD", "").strip().lower() in _TRUE:
            raise UserError(f"--serve cannot run uvicorn with UVICORN_RELOAD set: {RELOAD_WHY} "
                            "(unset it for the probe)")
    if server == "gunicorn":
        try:
            tokens = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
        except ValueError:
            raise UserError("--serve: GUNICORN_CMD_ARGS cannot be parsed; unset it for the probe") from None
        refused = SERVERS["gunicorn"].refused
        switches = SERVERS["gunicorn"].switches
        for token in (option for argument in tokens for option in _bundled_options(argument, switches)):
            found = _option_name(token, tuple(refused))
            if found:
                raise UserError(f"--serve cannot run gunicorn with {found} in GUNICORN_CMD_ARGS: {refused[found]}")
            if token in ("-c", "--config") or token.startswith("--config="):
                raise UserError("--serve: GUNICORN_CMD_ARGS names a config file; pass it on the command "
                                "line (-c FILE) so it can be checked, or unset it")


def _config_argument(arguments: Sequence[str]) -> str | None:
    for index, token in enumerate(arguments):
        if token in ("-c", "--config") and index + 1 < len(arguments):
            return arguments[index + 1]
        if token.startswith("--config="):
            return token.split("=", 1)[1]
        if token.startswith("-c") and len(token) > 2 and not token.startswith("--"):
            return token[2:]
    return None


def _refuse_modes_from_config(server: str, arguments: Sequence[str], cwd: Path) -> None:
    """gunicorn `-c conf.py` (or ./gunicorn.conf.py) with daemon/reload on; hypercorn's config too."""
    if server not in ("gunicorn", "hypercorn"):
        return
    given = _config_argument(arguments)
    if given is None:
        if server != "gunicorn" or not (cwd / "gunicorn.conf.py").is_file():
            return
        given = "gunicorn.conf.py"  # gunicorn reads it from the working folder when no -c is given
    kind, _, name = given.partition(":") if given.startswith(("python:", "file:")) else ("file", "", given)
    if kind == "python":
        path = cwd / (name.replace(".", os.sep) + ".py")
    else:
        path = Path(name) if Path(name).is_absolute() else cwd / name
    names = ("daemon", "reload") if server == "gunicorn" else ("use_reloader",)
    for setting, value in _config_settings(path, names).items():
        if value is True or value is None:
            why = DAEMON_WHY if setting == "daemon" else RELOAD_WHY
            state = "turns on" if value else "may turn on"
            unsure = "" if value else " (set to something other than a plain True/False, which the probe cannot read)"
            raise UserError(f"--serve: the config file {escape_text(given)} {state} {setting!r}{unsure}: {why}")


def _config_settings(path: Path, names: Sequence[str]) -> dict[str, bool | None]:
    """The literal values of top-level `names` in a Python (or TOML) config, read, never run.

    None stands for "set, but not to a literal", which the caller treats as possibly on.
    """
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            raise OSError("not a regular file of at most 1 MiB")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--serve: cannot read the server's config file {escape_text(path)} "
                        f"({getattr(error, 'strerror', None) or error})") from None
    found: dict[str, bool | None] = {}
    if path.suffix == ".toml":
        import tomllib

        try:
            document = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError):
            raise UserError(f"--serve: cannot parse the server's config file {escape_text(path)}") from None
        for name in names:
            if name in document:
                found[name] = bool(document[name]) if isinstance(document[name], bool) else None
        return found
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise UserError(f"--serve: cannot parse the server's config file {escape_text(path)}") from None
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = bool(value.value) if isinstance(value, ast.Constant) else None
    return found
