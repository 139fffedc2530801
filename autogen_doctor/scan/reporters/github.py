"""`--format github`: GitHub Actions workflow commands, shown as annotations on the diff.

    ::warning file=app/main.py,line=14,col=5,endLine=14,endColumn=22,title=AD101::message

Severity error -> `::error`, warning -> `::warning`, info -> `::notice`. Escaping follows
GitHub's toolkit: `%`, CR and LF in the message; additionally `:` and `,` in properties.
Text from the scanned tree first goes through `escape_text` (ESC, other controls and bidi
characters become visible escapes), so an annotation shows what a file really holds.
"""

from __future__ import annotations

from autogen_doctor.scan.findings import Severity
from autogen_doctor.scan.reporters import Report
from autogen_doctor.textsafe import escape_text

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, properties: dict[str, object], message: str) -> str:
    fields = ",".join(f"{key}={escape_property(escape_text(value))}" for key, value in properties.items()
                      if value is not None)
    return f"::{kind} {fields}::{escape_data(message)}"


def render_github(report: Report) -> str:
    lines = []
    for finding in report.findings:
        # The one newline is ours (GitHub shows the hint on its own line); the texts are escaped.
        message = escape_text(finding.message) + (f"\nhelp: {escape_text(finding.fix)}" if finding.fix else "")
        properties = {"file": finding.path, "line": finding.line, "col": finding.column,
                      "endLine": finding.end_line, "endColumn": finding.end_column, "title": finding.code}
        lines.append(_command(_COMMAND[finding.severity], properties, message))
    for unused in report.unused_suppressions:
        properties = {"file": unused.path, "line": unused.line, "col": unused.column,
                      "title": "unused-suppression"}
        lines.append(_command("warning", properties, escape_text(unused.message)))
    for error in report.errors:
        lines.append(_command("error", {"file": error.path, "title": "autogen-doctor"},
                              f"could not scan: {escape_text(error.message)}"))
    return "".join(line + "\n" for line in lines)
