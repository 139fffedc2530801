"""`demo` command. (Placeholder: being built.)"""

from __future__ import annotations

from autogen_doctor.exit_codes import UserError


def demo_command() -> None:
    """Run the bundled broken example under several workers, probe it, scan it, explain."""
    raise UserError("demo is not built yet")
