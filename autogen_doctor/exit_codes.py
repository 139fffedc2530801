"""Exit codes: part of the contract (shared SPEC.md). Never renumber."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # scan: nothing at or above --fail-on; probe: verdict pass
    FINDINGS = 1  # scan: findings at or above --fail-on; probe: verdict state-loss
    USAGE = 2  # usage error, nothing scanned, target unreachable, every request failed
    INCONCLUSIVE = 3  # probe only


class UserError(Exception):
    """An error the user can act on: printed as one line, exits with `exit_code`."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
