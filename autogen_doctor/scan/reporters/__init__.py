"""Scan reporters: one module per output format, all reading the same `Report`.

A reporter is a pure function `render(report) -> str`; the command decides where the text
goes (stdout or `--output`) and whether colour is allowed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from autogen_doctor.scan.findings import Finding, ScanError, Severity
from autogen_doctor.scan.registry import Rule


@dataclass(frozen=True)
class UnusedSuppression:
    """A suppression comment that hid nothing (reported with --report-unused-suppressions)."""

    path: str
    line: int
    column: int
    directive: str
    # Codes it names that matched no finding; empty for a directive that names no codes.
    unused_codes: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        if self.unused_codes:
            codes = ", ".join(self.unused_codes)
            return f"unused suppression `{self.directive}` (no {codes} finding on this line or the next)"
        return f"unused suppression `{self.directive}` (no finding on this line or the next)"

    def to_json(self) -> dict:
        return {"path": self.path, "line": self.line, "column": self.column,
                "directive": self.directive, "unused_codes": list(self.unused_codes)}


@dataclass
class Report:
    """What one scan found, after selection, suppressions and the baseline were applied."""

    version: str
    findings: list[Finding]
    errors: list[ScanError]
    files_scanned: int
    rules: Mapping[str, Rule]
    fail_on: Severity = Severity.WARNING
    suppressed: int = 0
    baselined: int = 0
    deselected: int = 0
    unused_suppressions: list[UnusedSuppression] = field(default_factory=list)
    cwd: Path = field(default_factory=Path.cwd)
    # Findings (and unused suppressions, which count as warnings) at or above --fail-on.
    failing: int = 0
    exit_code: int = 0
    # Why the scan could not do its job (nothing to scan), for formats that carry it (SARIF).
    problem: str | None = None


def summary(report: Report) -> dict:
    """The `summary` object of `--format json` (documented in docs/scan-ci.md)."""
    by_severity = Counter(finding.severity.value for finding in report.findings)
    by_code = Counter(finding.code for finding in report.findings)
    return {
        "findings": len(report.findings),
        "by_severity": {level.value: by_severity.get(level.value, 0) for level in reversed(Severity)},
        "by_code": dict(sorted(by_code.items())),
        "files_scanned": report.files_scanned,
        "files_with_errors": len({error.path for error in report.errors}),
        "suppressed": report.suppressed,
        "baselined": report.baselined,
        "deselected": report.deselected,
        "unused_suppressions": [item.to_json() for item in report.unused_suppressions],
        "fail_on": report.fail_on.value,
        "failing": report.failing,
        "exit_code": report.exit_code,
    }


def render(report: Report, output_format: str, color: bool = False) -> str:
    """The report in `output_format` (text, json, sarif or github), ending with a newline."""
    if output_format == "json":
        from autogen_doctor.scan.reporters.json import render_json

        return render_json(report)
    if output_format == "sarif":
        from autogen_doctor.scan.reporters.sarif import render_sarif

        return render_sarif(report)
    if output_format == "github":
        from autogen_doctor.scan.reporters.github import render_github

        return render_github(report)
    from autogen_doctor.scan.reporters.text import render_text

    return render_text(report, color=color)
