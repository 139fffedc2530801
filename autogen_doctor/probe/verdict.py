"""The verdict of a probe run: plain data built by `analysis.analyse`, printed by the reporters.

`Verdict.to_json()` is the contract's JSON object (shared SPEC.md, probe section) plus a few extra
fields (`reason`, `notes`, `identity_source`, `retries`, `checks`, `linked_findings`); the SPEC
fields never change name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autogen_doctor.exit_codes import ExitCode
from autogen_doctor.probe.os_identity import identity_kind
from autogen_doctor.probe.transcript import Backend

PASS = "pass"
INCONCLUSIVE = "inconclusive"
STATE_LOSS = "state-loss"
VERDICTS = (PASS, INCONCLUSIVE, STATE_LOSS)

CROSS_SESSION_LEAK = "cross-session-leak"
PROCESS_LOCAL_STATE = "process-local-state"
NOT_REHYDRATED = "not-rehydrated"
LOST_UPDATE = "lost-update"
HISTORY_TRUNCATED = "history-truncated"
# Precedence when several causes are found: a privacy breach outranks forgetting.
CAUSE_ORDER = (CROSS_SESSION_LEAK, PROCESS_LOCAL_STATE, NOT_REHYDRATED, LOST_UPDATE, HISTORY_TRUNCATED)

# What to do about each cause, one line (docs/probe-verdicts.md has the longer version).
CAUSE_FIXES = {
    CROSS_SESSION_LEAK: "key every piece of state by session id; never share one agent, team or history "
                        "between users",
    PROCESS_LOCAL_STATE: "keep conversation state in a shared store (Redis, a database) keyed by session, not in "
                         "module-level dicts, cached agents or one global team",
    NOT_REHYDRATED: "restore the agent or team from the store on every request (load_state, or pass the "
                    "earlier messages in)",
    LOST_UPDATE: "append atomically (RPUSH, a transaction, a lock or a version check) instead of read, change, "
                 "write back",
    HISTORY_TRUNCATED: "raise or remove the history window, or summarise older turns instead of dropping them",
}

# Evidence lists are capped so a large run stays readable; `count` always counts everything.
EVIDENCE_CAP = 10


@dataclass(slots=True)
class CauseReport:
    """One cause found in the run: how many instances, a one-line summary and capped evidence."""

    cause: str
    count: int
    evidence: list[str] = field(default_factory=list)
    summary: str = ""  # e.g. "36 of 36 codewords planted on another backend were forgotten"
    evidence_omitted: int = 0  # evidence lines left out by the cap

    @property
    def fix(self) -> str:
        return CAUSE_FIXES.get(self.cause, "")

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "count": self.count, "evidence": list(self.evidence),
                "summary": self.summary, "evidence_omitted": self.evidence_omitted, "fix": self.fix}


@dataclass(slots=True)
class BackendStats:
    """One backend (pod, pid) and how many usable replies it served."""

    pod: str | None
    pid: str | None
    replies: int

    @property
    def label(self) -> str:
        return Backend(pod=self.pod, pid=self.pid).label

    def to_json(self) -> dict[str, Any]:
        return {"pod": self.pod, "pid": self.pid, "replies": self.replies}


@dataclass(slots=True)
class Recall:
    """Recall checks over usable, non-burst replies: one check per (reply, expected codeword)."""

    expected: int = 0
    recalled: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.recalled / self.expected, 4) if self.expected else None

    def to_json(self) -> dict[str, Any]:
        return {"expected": self.expected, "recalled": self.recalled, "rate": self.rate}


@dataclass(slots=True)
class Verdict:
    """What the probe concluded, with everything a reporter or a CI step needs to explain it."""

    verdict: str  # pass | inconclusive | state-loss
    cause: str | None = None  # the primary cause (first of CAUSE_ORDER found), None unless state-loss
    causes: list[CauseReport] = field(default_factory=list)
    reason: str = ""  # one sentence: why this verdict (and, when inconclusive, how to get a real one)
    url: str = ""
    sessions: int = 0
    turns: int = 0  # turns per session, as planned
    replies: int = 0  # turns that got a usable (2xx, no error) reply
    errors: int = 0  # turns that got no usable reply even after retries
    retries: int = 0  # extra attempts spent on all turns
    backends: list[BackendStats] = field(default_factory=list)
    recall: Recall = field(default_factory=Recall)
    per_session: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    version: str = ""
    identity_source: str | None = None
    notes: list[str] = field(default_factory=list)
    # Recall checks split by whether the reply came from the backend that received the codeword:
    # {"same": {"expected", "recalled"}, "cross": {...}, "unknown": {...}}.
    checks: dict[str, dict[str, int]] = field(default_factory=dict)
    # Filled by `probe --src` (scan findings that explain a cause); rendered when present.
    linked_findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state_loss(self) -> bool:
        return self.verdict == STATE_LOSS

    def cause_report(self, cause: str) -> CauseReport | None:
        """The report of one cause, or None when that cause was not found."""
        return next((report for report in self.causes if report.cause == cause), None)

    def to_json(self) -> dict[str, Any]:
        """The SPEC's JSON object (the first fields) plus extra explanatory fields."""
        return {
            "verdict": self.verdict,
            "cause": self.cause,
            "causes": [report.to_json() for report in self.causes],
            "url": self.url,
            "sessions": self.sessions,
            "turns": self.turns,
            "replies": self.replies,
            "errors": self.errors,
            "backends": [backend.to_json() for backend in self.backends],
            "recall": self.recall.to_json(),
            "per_session": [dict(row) for row in self.per_session],
            "duration_s": round(self.duration_s, 3),
            "version": self.version,
            # Extra fields (allowed by the SPEC; never renamed once shipped).
            "reason": self.reason,
            "retries": self.retries,
            "identity_source": self.identity_source,
            # The kind of that source: header, body, os (--serve asked the OS) or none.
            "identity": identity_kind(self.identity_source),
            "checks": {kind: dict(counts) for kind, counts in self.checks.items()},
            "notes": list(self.notes),
            "linked_findings": [dict(item) for item in self.linked_findings],
        }

    def exit_code(self) -> int:
        """0 pass, 1 state-loss, 3 inconclusive (shared SPEC.md, exit codes)."""
        if self.verdict == PASS:
            return int(ExitCode.OK)
        if self.verdict == STATE_LOSS:
            return int(ExitCode.FINDINGS)
        return int(ExitCode.INCONCLUSIVE)
