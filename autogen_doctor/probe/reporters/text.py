"""Text report (rich): verdict, cause and reason, evidence, the session map, backends and recall.

With colour, each map cell is painted in its backend's colour; without (not a TTY, `color=False`)
each cell still starts with the backend's tag (A, B, C...), so the map stays readable in a CI log.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autogen_doctor.probe.reporters.session_map import MARK_LEGEND, SessionMap, build_map, linked_finding_line
from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import INCONCLUSIVE, PASS, Verdict
from autogen_doctor.textsafe import escape_text

# Background colours for backends: distinct hues first, text colour chosen to stay legible.
PALETTE = (
    ("black", "bright_cyan"), ("black", "bright_magenta"), ("black", "bright_yellow"),
    ("black", "bright_green"), ("white", "blue"), ("white", "red"), ("black", "white"),
    ("white", "magenta"), ("black", "cyan"), ("black", "yellow"), ("white", "green"), ("white", "bright_black"),
)
VERDICT_STYLE = {PASS: "bold green", INCONCLUSIVE: "bold yellow"}
MAX_MAP_ROWS = 200
# Text from the service or a recording (pod names, errors, replies) goes through escape_text:
# control characters shown, not obeyed, and no newline to forge a `verdict:` line.


def backend_style(palette: int | None) -> str:
    if palette is None:
        return "dim"
    fg, bg = PALETTE[palette % len(PALETTE)]
    return f"{fg} on {bg}"


def _session_map_table(session_map: SessionMap, color: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("session", no_wrap=True)
    for turn in range(1, session_map.turns + 1):
        table.add_column(str(turn), justify="center", no_wrap=True)
    for row in session_map.rows[:MAX_MAP_ROWS]:
        cells = []
        for cell in row.cells:
            style = backend_style(cell.palette) if color else ""
            if color and (cell.lost or cell.kind == "error"):
                style += " bold"
            cells.append(Text(f" {escape_text(cell.text)} ", style=style.strip()))
        cells += [Text("")] * (session_map.turns - len(row.cells))
        name = Text(escape_text(row.session), style="bold red" if (row.lost and color) else "")
        table.add_row(name, *cells)
    return table


def render_text(verdict: Verdict, transcript: Transcript, *, color: bool = False, width: int | None = None) -> str:
    """The human report as a string; ANSI colours only when `color`.

    The width fits the session map (never squeezed: a cut cell would hide a mark), at least 100.
    """
    session_map = build_map(transcript)
    if width is None:
        longest = max([len(row.session) for row in session_map.rows] + [7])
        widest_cell = max([len(cell.text) for row in session_map.rows for cell in row.cells] + [3])
        width = max(100, longest + 4 + session_map.turns * (widest_cell + 4))
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, emoji=False,
                      markup=False, soft_wrap=False)

    def line(text: str | Text = "", style: str = "") -> None:
        console.print(text if isinstance(text, Text) else Text(escape_text(text), style=style if color else ""),
                      soft_wrap=True)

    title = Text("autogen-doctor probe ", style="bold" if color else "")
    title.append(f"{escape_text(verdict.url)}  ({verdict.sessions} session{'s' if verdict.sessions != 1 else ''} x "
                 f"{verdict.turns} turn{'s' if verdict.turns != 1 else ''}, "
                 f"{verdict.duration_s:.1f} s)")
    line(title)
    head = Text("verdict: ")
    head.append(verdict.verdict.upper(), style=VERDICT_STYLE.get(verdict.verdict, "bold red") if color else "")
    if verdict.cause:
        head.append(f"   cause: {escape_text(verdict.cause)}", style="bold" if color else "")
    line(head)
    line(f"why: {verdict.reason}")

    if verdict.causes:
        line()
        line("evidence", "bold")
        for report in verdict.causes:
            line(f"  {report.cause} ({report.count}): {report.summary}", "bold")
            if report.fix:
                line(f"    fix: {report.fix}", "green")
            for item in report.evidence:
                line(f"    - {item}")
            if report.evidence_omitted:
                line(f"    ... and {report.evidence_omitted} more (every turn is in the transcript: "
                     f"--record FILE.jsonl)", "dim")

    if session_map.rows:
        line()
        line("session map (one row per session, one cell per turn; letter = backend)", "bold")
        console.print(_session_map_table(session_map, color))
        if len(session_map.rows) > MAX_MAP_ROWS:
            line(f"  ... {len(session_map.rows) - MAX_MAP_ROWS} more sessions not shown", "dim")
        legend = Text("  backends: ")
        for index, entry in enumerate(session_map.legend):
            if index:
                legend.append("  ")
            legend.append(f" {entry.tag} ", style=backend_style(entry.palette) if color else "")
            legend.append(f" {escape_text(entry.label)}")
        line(legend)
        line("  marks: " + "  ".join(f"{mark} {meaning}" for mark, meaning in MARK_LEGEND), "dim")

    line()
    if verdict.backends:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        table.add_column("backend")
        table.add_column("pod")
        table.add_column("pid")
        table.add_column("replies", justify="right")
        tags = {entry.label: entry for entry in session_map.legend}
        for backend in verdict.backends:
            entry = tags.get(backend.label)
            tag = Text(f" {entry.tag} " if entry else " ", style=backend_style(entry.palette) if (color and entry) else "")
            table.add_row(tag, Text(escape_text(backend.pod or "-")), Text(escape_text(backend.pid or "-")), str(backend.replies))
        console.print(table)
    else:
        line("backends: none identified (identity source: none)")

    recall = verdict.recall
    rate = f"{recall.rate:.0%}" if recall.rate is not None else "n/a"
    line(f"recall: {recall.recalled} of {recall.expected} codewords ({rate})" + _split(verdict))
    line(f"replies: {verdict.replies}, errors: {verdict.errors}, retries: {verdict.retries}"
         + (f", identity from {verdict.identity_source}" if verdict.identity_source else ""))
    for note in verdict.notes:
        line(f"note: {note}", "dim")
    if verdict.linked_findings:
        line()
        line("findings in the code that explain it (--src)", "bold")
        for item in verdict.linked_findings:
            line(f"  - {linked_finding_line(item)}")
    return buffer.getvalue()


def _split(verdict: Verdict) -> str:
    parts = []
    for kind, words in (("same", "same backend"), ("cross", "another backend")):
        counts = verdict.checks.get(kind) or {}
        if counts.get("expected"):
            parts.append(f"{words} {counts['recalled']}/{counts['expected']}")
    return f"; {', '.join(parts)}" if parts else ""
