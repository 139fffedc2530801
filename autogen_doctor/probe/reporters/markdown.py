"""Markdown report for PR comments and the GitHub step summary ($GITHUB_STEP_SUMMARY).

Everything that comes from the service (backend labels, session ids) is escaped: GitHub renders
HTML inside Markdown, and a `|` would break the table.
"""

from __future__ import annotations

import html

from autogen_doctor.probe.reporters.session_map import MARK_LEGEND, build_map, linked_finding_line
from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import PASS, STATE_LOSS, Verdict
from autogen_doctor.textsafe import escape_text

ICONS = {PASS: "✅", STATE_LOSS: "❌"}
MAX_MAP_ROWS = 100  # a PR comment is limited to 65536 characters


def md(text: object) -> str:
    """Escape text for a Markdown table cell or paragraph: HTML and Markdown syntax, then every
    control, line break and bidi character shown as an escape (escape_text, as every reporter)."""
    escaped = html.escape(str(text), quote=False)
    for char in "\\`*_[]|#":
        escaped = escaped.replace(char, "\\" + char)
    return escape_text(escaped)


def render_markdown(verdict: Verdict, transcript: Transcript) -> str:
    """A Markdown summary: verdict, reason, figures, causes with evidence, session map."""
    icon = ICONS.get(verdict.verdict, "⚠️")
    title = f"### {icon} autogen-doctor probe: {verdict.verdict}"
    if verdict.cause:
        title += f" ({verdict.cause})"
    out = [title, "", f"> {md(verdict.reason)}", ""]
    rate = f"{verdict.recall.rate:.0%}" if verdict.recall.rate is not None else "n/a"
    out += ["| URL | sessions × turns | replies | errors | retries | backends | recall |",
            "|---|---|---|---|---|---|---|",
            f"| {md(verdict.url)} | {verdict.sessions} × {verdict.turns} | {verdict.replies} | {verdict.errors} "
            f"| {verdict.retries} | {len(verdict.backends)} | {verdict.recall.recalled}/{verdict.recall.expected} "
            f"({rate}) |", ""]
    if verdict.causes:
        out.append("#### Causes")
        for report in verdict.causes:
            out.append(f"- **{report.cause}** ({report.count}): {md(report.summary)}")
            if report.fix:
                out.append(f"  - _fix:_ {md(report.fix)}")
            out += [f"  - {md(item)}" for item in report.evidence]
            if report.evidence_omitted:
                out.append(f"  - … and {report.evidence_omitted} more")
        out.append("")

    session_map = build_map(transcript)
    if session_map.rows:
        out.append("#### Session map")
        out.append("One row per session, one cell per turn; the letter is the backend that served it.")
        out.append("")
        header = ["session"] + [str(turn) for turn in range(1, session_map.turns + 1)]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for row in session_map.rows[:MAX_MAP_ROWS]:
            cells = [md(cell.text) for cell in row.cells] + [""] * (session_map.turns - len(row.cells))
            name = f"**{md(row.session)}**" if row.lost else md(row.session)
            out.append("| " + " | ".join([name, *cells]) + " |")
        if len(session_map.rows) > MAX_MAP_ROWS:
            out.append(f"\n_{len(session_map.rows) - MAX_MAP_ROWS} more sessions not shown._")
        out.append("")
        out.append("Backends: " + ", ".join(f"**{entry.tag}** = {md(entry.label)} ({entry.replies} replies)"
                                           for entry in session_map.legend))
        out.append("")
        out.append("Marks: " + "; ".join(f"`{mark}` {meaning}" for mark, meaning in MARK_LEGEND))
        out.append("")
    if verdict.notes:
        out += [f"- {md(note)}" for note in verdict.notes]
        out.append("")
    if verdict.linked_findings:
        out.append("#### Findings in the code that explain it")
        out += [f"- {md(linked_finding_line(item))}" for item in verdict.linked_findings]
        out.append("")
    out.append(f"<sub>autogen-doctor {md(verdict.version)}</sub>")
    return "\n".join(out) + "\n"
