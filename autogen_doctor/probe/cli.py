"""`probe` command. (Placeholder: being built.)"""

from __future__ import annotations

import typer

from autogen_doctor.exit_codes import UserError


def probe_command(url: str = typer.Argument(None, help="The chat endpoint to probe")) -> None:
    """Fire multi-turn sessions at a running service and diagnose state loss."""
    raise UserError("probe is not built yet")
