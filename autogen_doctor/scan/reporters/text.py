"""`--format text`: ruff-like lines, a fix hint under each, and one summary line.

    app/main.py:14:5: AD101 Conversation history kept in module-level dict `SESSIONS`
      help: keep history in Redis keyed by session id
    app/broken.py: error: invalid syntax (line 3)
    Found 1 finding (1 warning) in 12 files; 1 file could not be scanned.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from autogen_doctor.scan.findings import Severity
from autogen_doctor.textsafe import escape_text
from autogen_doctor.scan.reporters import Report

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _plural(count: int, word: str) -> str:
    # "info" is a mass noun: "3 info", like "2 errors, 1 warning".
    return f"{count} {word}" + ("" if count == 1 or word == "info" else "s")


def summary_line(report: Report) -> str:
    """"Found 3 findings (2 errors, 1 warning) in 12 files; 1 file could not be scanned." """
    files = _plural(report.files_scanned, "file")
    if report.findings:
        counts = [(level, sum(1 for f in report.findings if f.severity is level)) for level in reversed(Severity)]
        detail = ", ".join(_plural(count, level.value) for level, count in counts if count)
        line = f"Found {_plural(len(report.findings), 'finding')} ({detail}) in {files}"
    else:
        line = f"No findings in {files}"
    extras = []
    unscanned = len({error.path for error in report.errors})
    if unscanned:
        extras.append(f"{_plural(unscanned, 'file')} could not be scanned")
    if report.suppressed:
        extras.append(f"{report.suppressed} suppressed")
    if report.baselined:
        extras.append(f"{report.baselined} in the baseline")
    if report.unused_suppressions:
        extras.append(_plural(len(report.unused_suppressions), "unused suppression"))
    return line + "".join(f"; {extra}" for extra in extras) + "."


def text_lines(report: Report) -> list[Text]:
    """The report as styled lines (plain when printed without colour)."""
    lines: list[Text] = []
    for finding in report.findings:
        line = Text()
        line.append(finding.path, style="bold")
        line.append(f":{finding.line}:{finding.column}: ")
        line.append(finding.code, style=_SEVERITY_STYLE[finding.severity])
        line.append(f" {finding.message}")
        lines.append(line)
        if finding.fix:
            hint = Text("  ")
            hint.append("help", style="bold cyan")
            hint.append(f": {finding.fix}")
            lines.append(hint)
        for step in finding.trace:
            # Notes quote names from the scanned code: outside text, escaped like any other.
            lines.append(Text(f"  trace: {escape_text(step.path)}:{step.line}: {escape_text(step.note)}", style="dim"))
    for unused in report.unused_suppressions:
        line = Text()
        line.append(unused.path, style="bold")
        line.append(f":{unused.line}:{unused.column}: ")
        line.append(unused.message, style="yellow")
        lines.append(line)
    for error in report.errors:
        line = Text()
        line.append(error.path, style="bold")
        line.append(": ")
        line.append("error", style="bold red")
        line.append(f": {error.message}")
        lines.append(line)
    return lines


def render_text(report: Report, color: bool = False, with_summary: bool = True) -> str:
    """Findings, unused suppressions, unscannable files, then the summary line."""
    lines = text_lines(report)
    if with_summary:
        lines.append(Text(summary_line(report), style="bold"))
    if not color:
        return "".join(line.plain + "\n" for line in lines)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=100_000,
                      highlight=False, soft_wrap=True, emoji=False, markup=False)
    for line in lines:
        console.print(line)
    return buffer.getvalue()
