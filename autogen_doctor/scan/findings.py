"""Findings are plain data; reporters decide how they look."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import Enum

from autogen_doctor.scan.suppress import Suppression


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown severity {text!r}; expected info, warning or error") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a finding's witness (its trace): where, and what happens there."""

    path: str
    line: int
    note: str

    def to_json(self) -> dict:
        return {"path": self.path, "line": self.line, "note": self.note}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. `path` is the display path (as ruff writes it).

    Lines and columns are 1-based, like ruff and SARIF.
    """

    code: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    end_line: int | None = None
    end_column: int | None = None
    symbol: str | None = None
    fix: str = ""
    context: str = ""
    # The witness: `Step`s (path, line, note) from the request path down to the state.
    trace: tuple = ()

    @property
    def family(self) -> str:
        return self.code[:3]

    def with_severity(self, severity: Severity) -> "Finding":
        return replace(self, severity=severity)

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.code, self.symbol or "")

    def to_json(self) -> dict:
        data = asdict(self)
        data["trace"] = [step.to_json() for step in self.trace]
        data["severity"] = self.severity.value
        data["family"] = self.family
        data["end_line"] = self.end_line if self.end_line is not None else self.line
        data["end_column"] = self.end_column if self.end_column is not None else self.column
        order = ["code", "family", "severity", "path", "line", "column", "end_line", "end_column",
                 "message", "symbol", "fix", "context", "trace"]
        return {key: data[key] for key in order}


@dataclass(frozen=True, slots=True)
class ScanError:
    """A file that could not be read or parsed; the scan goes on without it."""

    path: str
    message: str

    def to_json(self) -> dict:
        return {"path": self.path, "message": self.message}


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    files_scanned: int = 0
    # Filled by the CLI layer: findings hidden by suppressions/baseline, unused suppressions.
    suppressed: int = 0
    baselined: int = 0
    # Suppression comments of every scanned file, keyed by display path (filled by the engine).
    suppressions: dict[str, list[Suppression]] = field(default_factory=dict)
