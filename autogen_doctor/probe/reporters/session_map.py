"""The session map as data: one row per session, one cell per turn, shared by every reporter.

Each cell carries the backend that served the turn (a short tag A, B, C... and a palette index,
both by order of first appearance so the same run always gets the same colours) and what the
reply showed: all earlier codewords recalled, some forgotten, another session's codewords, an
error, or a burst reply (sent with --concurrent-turns, not judged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autogen_doctor.probe.transcript import Backend, Transcript, TurnRecord

UNKNOWN_TAG = "?"

# What each mark means; the reporters print this legend next to the map.
MARK_LEGEND = (
    ("✓", "recalled all"),
    ("✗n", "forgot n"),
    ("!", "another session's codeword"),
    ("E", "error, no usable reply"),
    ("~", "burst turn, not judged"),
    ("·", "nothing to recall yet"),
)


def tag_for(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... for the index-th backend."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(slots=True)
class Cell:
    """One turn of one session as the map shows it."""

    turn: int
    tag: str  # backend tag, "?" when the backend is unknown
    palette: int | None  # colour index, None for an unknown backend
    backend_label: str
    kind: str  # ok | forgot | error | burst | first
    forgotten: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    status: int | None = None
    error: str | None = None
    attempts: int = 1
    reply_text: str = ""

    @property
    def mark(self) -> str:
        marks = {"ok": "✓", "forgot": f"✗{len(self.forgotten)}", "error": "E", "burst": "~", "first": "·"}
        return marks[self.kind] + ("!" if self.foreign else "")

    @property
    def text(self) -> str:
        """The cell as plain text, readable without colour: backend tag, then the mark."""
        if self.kind == "error":
            return "E"
        return f"{self.tag}{self.mark}"

    @property
    def lost(self) -> bool:
        return self.kind == "forgot" or bool(self.foreign)

    @property
    def title(self) -> str:
        """A one-line description (hover text in HTML)."""
        parts = [f"turn {self.turn}", self.backend_label]
        if self.kind == "error":
            parts.append(self.error or f"HTTP {self.status}")
        elif self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.attempts > 1:
            parts.append(f"{self.attempts} attempts")
        if self.forgotten:
            parts.append("forgot " + ", ".join(self.forgotten))
        if self.foreign:
            parts.append("another session's " + ", ".join(self.foreign))
        if self.kind == "burst":
            parts.append("burst reply, not judged")
        return " · ".join(parts)


@dataclass(slots=True)
class Row:
    session: str
    cells: list[Cell]

    @property
    def lost(self) -> bool:
        return any(cell.lost for cell in self.cells)


@dataclass(slots=True)
class LegendEntry:
    tag: str
    palette: int | None
    label: str
    replies: int


@dataclass(slots=True)
class SessionMap:
    rows: list[Row]
    turns: int  # columns
    legend: list[LegendEntry]


def _cell(record: TurnRecord, tags: dict[Backend, int]) -> Cell:
    index = tags.get(record.backend) if record.backend.known else None
    tag = tag_for(index) if index is not None else UNKNOWN_TAG
    if not record.ok:
        kind = "error"
    elif record.burst:
        kind = "burst"
    elif record.forgotten:
        kind = "forgot"
    elif record.expected:
        kind = "ok"
    else:
        kind = "first"
    return Cell(
        turn=record.turn, tag=tag, palette=index, backend_label=record.backend.label, kind=kind,
        forgotten=record.forgotten if kind == "forgot" else [], foreign=list(record.foreign),
        status=record.status, error=record.error, attempts=record.attempts, reply_text=record.reply_text,
    )


def build_map(transcript: Transcript) -> SessionMap:
    """The session map of a transcript (rows in session order, cells in turn order)."""
    tags: dict[Backend, int] = {}
    replies: dict[Backend, int] = {}
    # Sessions in the order the plan made them, then any the plan did not list.
    # A dict keeps the order and answers "seen?" at once: linear in sessions.
    by_session: dict[str, list[TurnRecord]] = {session: [] for session in transcript.codewords_by_session}
    for record in transcript.records:
        by_session.setdefault(record.session, [])
    order = list(by_session)
    for record in transcript.records:
        by_session[record.session].append(record)
    for session in order:
        by_session[session].sort(key=lambda record: record.turn)
        for record in by_session[session]:
            if record.backend.known:
                tags.setdefault(record.backend, len(tags))
                if record.ok:
                    replies[record.backend] = replies.get(record.backend, 0) + 1
    rows = [Row(session, [_cell(record, tags) for record in by_session[session]]) for session in order]
    legend = [LegendEntry(tag_for(index), index, backend.label, replies.get(backend, 0))
              for backend, index in tags.items()]
    if any(not record.backend.known for record in transcript.records):
        legend.append(LegendEntry(UNKNOWN_TAG, None, "unknown backend (no identity in the reply)",
                                  sum(1 for r in transcript.records if r.ok and not r.backend.known)))
    turns = max([len(row.cells) for row in rows] + [transcript.turns or 0])
    return SessionMap(rows=rows, turns=turns, legend=legend)


def linked_finding_line(item: dict) -> str:
    """One linked scan finding as plain text, tolerant of missing keys."""
    code = item.get("code") or ""
    where = item.get("path") or ""
    if where and item.get("line"):
        where = f"{where}:{item['line']}"
    message = item.get("message") or item.get("summary") or ""
    cause = item.get("cause")
    head = " ".join(part for part in (code, where) if part)
    text = f"{head}: {message}" if head and message else head or message or str(item)
    return f"[{cause}] {text}" if cause else text
