"""`--format text`: ruff-like lines, a fix hint under each, and one summary line.

    app/main.py:14:5: AD101 Conversation history kept in module-level dict `SESSIONS`
      help: keep history in Redis keyed by session id
    app/broken.py: error: invalid syntax (line 3)
    Found 1 finding (1 warning) in 12 files; 1 file could not be scanned.

Everything that comes from the scanned tree (paths, messages and hints that quote names or
YAML values, error messages) goes through `escape_text`: one finding is one line, and no
newline, ESC or bidi character from a file reaches the terminal or a CI log (where a line
starting `::error` would be a GitHub workflow command).
"""

from __future__ import annotations

from autogen_doctor.scan.findings import Severity
from autogen_doctor.scan.reporters import Report
from autogen_doctor.textsafe import escape_text

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}

# One line is a list of (text, rich style or ""); rich is imported only to colour them.
Segments = list[tuple[str, str]]


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


def text_lines(report: Report) -> list[Segments]:
    """The report as lines of styled segments (every outside text already escaped)."""
    lines: list[Segments] = []
    for finding in report.findings:
        lines.append([(escape_text(finding.path), "bold"), (f":{finding.line}:{finding.column}: ", ""),
                      (finding.code, _SEVERITY_STYLE[finding.severity]), (f" {escape_text(finding.message)}", "")])
        if finding.fix:
            lines.append([("  ", ""), ("help", "bold cyan"), (f": {escape_text(finding.fix)}", "")])
        for step in finding.trace:
            # Notes quote names from the scanned code: outside text, escaped like any other.
            lines.append([(f"  trace: {escape_text(step.path)}:{step.line}: {escape_text(step.note)}", "dim")])
    for unused in report.unused_suppressions:
        lines.append([(escape_text(unused.path), "bold"), (f":{unused.line}:{unused.column}: ", ""),
                      (escape_text(unused.message), "yellow")])
    for error in report.errors:
        lines.append([(escape_text(error.path), "bold"), (": ", ""), ("error", "bold red"),
                      (f": {escape_text(error.message)}", "")])
    return lines


def render_text(report: Report, color: bool = False, with_summary: bool = True) -> str:
    """Findings, unused suppressions, unscannable files, then the summary line."""
    lines = text_lines(report)
    if with_summary:
        lines.append([(summary_line(report), "bold")])
    if not color:
        return "".join("".join(text for text, _ in line) + "\n" for line in lines)
    import io

    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=100_000,
                      highlight=False, soft_wrap=True, emoji=False, markup=False)
    for line in lines:
        styled = Text()
        for text, style in line:
            styled.append(text, style=style or None)
        console.print(styled)
    return buffer.getvalue()
