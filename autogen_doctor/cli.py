"""The `autogen-doctor` command: assembles the subcommands; each lives beside its pipeline.

Errors the user can act on (`UserError`, and click's usage errors) are printed as one line
with their exit code; anything else escaping a command is a bug in autogen-doctor and is
reported as such. Every error line goes through `escape_text`: messages quote file names,
config values and service replies, which must not add lines or terminal escapes.
"""

from __future__ import annotations

import sys

import typer

from autogen_doctor import __version__
from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.textsafe import escape_text

app = typer.Typer(
    name="autogen-doctor",
    help="Find and prove conversation-state loss in scaled-out AutoGen chat services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"autogen-doctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Find and prove conversation-state loss in scaled-out AutoGen chat services."""


def _register_commands() -> None:
    # Imported here so `--version` and `--help` stay fast and each pipeline owns its flags.
    from autogen_doctor.scan.cli import explain_command, rules_command, scan_command

    app.command("scan")(scan_command)
    app.command("rules")(rules_command)
    app.command("explain")(explain_command)

    from autogen_doctor.probe.cli import probe_command

    app.command("probe")(probe_command)

    from autogen_doctor.demo import demo_command

    app.command("demo")(demo_command)


_register_commands()


def error_line(message: object) -> str:
    """`autogen-doctor: error: MESSAGE` with MESSAGE made safe to print (one line, no escapes)."""
    return f"autogen-doctor: error: {escape_text(message)}"


def fail(message: str, code: int = ExitCode.USAGE) -> "typer.Exit":
    """Print a one-line error on stderr and return the Exit to raise."""
    typer.echo(error_line(message), err=True)
    return typer.Exit(int(code))


def _usage_error_line(error: Exception) -> str:
    """click's usage error as our one line, with where to find help."""
    message = " ".join(str(error.format_message()).split())  # type: ignore[attr-defined]
    context = getattr(error, "ctx", None)
    command = getattr(context, "command_path", None) or "autogen-doctor"
    return error_line(f"{message} (see '{command} --help')")


def main() -> None:
    """Console-script entry point."""
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into a silent Exit(130)
            typer.echo("autogen-doctor: interrupted", err=True)
    except UserError as error:
        typer.echo(error_line(error), err=True)
        sys.exit(int(error.exit_code))
    except typer.Exit as done:  # click.exceptions.Exit
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("autogen-doctor: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("autogen-doctor: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # usage errors (click-style exceptions, vendored by typer) and bugs
        if callable(getattr(error, "show", None)) and isinstance(getattr(error, "exit_code", None), int):
            if type(error).__name__ == "NoArgsIsHelpError" or not callable(getattr(error, "format_message", None)):
                error.show()  # `autogen-doctor` alone: the help is the answer
            else:
                typer.echo(_usage_error_line(error), err=True)
            sys.exit(error.exit_code)
        typer.echo(
            f"autogen-doctor: internal error ({escape_text(type(error).__name__)}: {escape_text(error)}); "
            "this is a bug, please report it",
            err=True,
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)
