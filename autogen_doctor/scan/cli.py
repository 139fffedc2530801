"""`scan`, `rules` and `explain` commands. (Placeholder scan command: being built.)"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from autogen_doctor.exit_codes import ExitCode, UserError


def scan_command(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to scan (default: .)"),
) -> None:
    """Find shared-state loss in code and deployment files (never imports or runs them)."""
    raise UserError("scan is not built yet")


def rules_command() -> None:
    """List every rule: code, default severity, name and summary."""
    from autogen_doctor.scan.registry import load_rules

    for code, rule in load_rules().items():
        typer.echo(f"{code}  {rule.severity.value:<7}  {rule.name:<40}  {rule.summary}")


def explain_command(code: str = typer.Argument(..., help="A rule code such as AD101")) -> None:
    """Print one rule's documentation: what it does, why it is bad, example, fix."""
    from autogen_doctor.scan.registry import load_rules

    rules = load_rules()
    found = rules.get(code.strip().upper())
    if found is None:
        raise UserError(f"unknown rule code {code!r}; `autogen-doctor rules` lists them")
    typer.echo(f"# {found.code} {found.name}\n")
    typer.echo(f"{found.summary}. Family {found.family} ({found.family_name}); "
               f"default severity {found.severity.value}.\n")
    typer.echo(found.doc.as_markdown())
    raise typer.Exit(int(ExitCode.OK))
