"""The transcript: one record per turn sent, the only input the analysis reads.

Records are plain data so they can be written to JSONL (`--record`) and read back
(`--replay`) to re-run the analysis offline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Backend:
    """The process that served a reply. Several pods may all be PID 1, so both parts count."""

    pod: str | None = None
    pid: str | None = None

    @property
    def known(self) -> bool:
        return self.pod is not None or self.pid is not None

    @property
    def label(self) -> str:
        if self.pod and self.pid:
            return f"{self.pod}/pid {self.pid}"
        if self.pid:
            return f"pid {self.pid}"
        if self.pod:
            return self.pod
        return "unknown backend"

    def to_json(self) -> dict[str, str | None]:
        return {"pod": self.pod, "pid": self.pid}


@dataclass(slots=True)
class TurnRecord:
    """One turn of one session: what was planted, what came back, and who answered.

    `planted` is the codeword this turn's message introduced; `expected` the codewords planted
    by earlier turns of the same session whose planting turn got an OK reply (a turn that failed
    after retries may or may not have been stored, so its codeword is never expected): what the
    reply should still recall. `recalled` is the
    subset of `expected` found in the reply, `foreign` are codewords of *other* sessions seen in
    the reply. `burst` marks turns sent at once under --concurrent-turns (their replies cannot
    show what the burst lost, so the analysis judges recall only on turns after the burst).
    A record with `error` set (or a status outside 2xx) has no usable reply.
    """

    session: str
    turn: int  # 1-based
    planted: str
    expected: list[str] = field(default_factory=list)
    recalled: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    backend: Backend = field(default_factory=Backend)
    status: int | None = None
    error: str | None = None
    attempts: int = 1  # 1 + retries spent on this turn
    sent_at: float = 0.0  # seconds since the run started
    latency_s: float = 0.0
    burst: bool = False
    reply_text: str = ""  # extracted reply, truncated for the record
    request: dict[str, Any] = field(default_factory=dict)  # method, url, headers (redacted), body
    response_headers: dict[str, str] = field(default_factory=dict)  # redacted
    # WebSocket turns only (probe/ws): connection, connection_turn, ended_by, close, client,
    # server, frames. None for HTTP.
    ws: dict[str, Any] | None = None
    # A streamed reply ("event-stream" or "json-lines") is read piece by piece and joined;
    # `joined_codewords` are the recalled codewords that no single piece held (chunks split them).
    reply_stream: str | None = None
    joined_codewords: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        # 101: a WebSocket turn whose handshake switched protocols and whose reply arrived.
        return self.error is None and self.status is not None and (200 <= self.status < 300 or self.status == 101)

    @property
    def forgotten(self) -> list[str]:
        recalled = set(self.recalled)
        return [word for word in self.expected if word not in recalled]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["backend"] = self.backend.to_json()
        data["type"] = "turn"
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TurnRecord":
        values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        backend = data.get("backend") or {}
        values["backend"] = Backend(pod=backend.get("pod"), pid=backend.get("pid"))
        return cls(**values)


@dataclass(slots=True)
class Transcript:
    """Every turn of a run plus what the run was asked to do."""

    url: str
    sessions: int
    turns: int
    records: list[TurnRecord] = field(default_factory=list)
    concurrent_turns: bool = False
    # Which identity source was used ("header X-Backend-Pid", "json pid", None when none found).
    identity_source: str | None = None
    duration_s: float = 0.0
    # Every codeword planted in this run, by session; used to spot another session's words.
    codewords_by_session: dict[str, list[str]] = field(default_factory=dict)
    transport: str = "http"  # "ws" for probe ws://... (probe/ws)
    ws_connection: str | None = None  # WebSocket only: turn, session or N turns per connection

    def header_json(self) -> dict[str, Any]:
        return {
            "type": "run",
            "url": self.url,
            "sessions": self.sessions,
            "turns": self.turns,
            "concurrent_turns": self.concurrent_turns,
            "identity_source": self.identity_source,
            "duration_s": self.duration_s,
            "codewords_by_session": self.codewords_by_session,
            "transport": self.transport,
            "ws_connection": self.ws_connection,
        }
