"""From a transcript to a verdict: pure functions, no network, no clock, no randomness.

The unit of judgement is a *recall check*: one (usable reply, expected codeword) pair, judged
only on replies that are OK and not part of a --concurrent-turns burst. Each check is classed by
whether the reply came from the backend that served the turn that planted the codeword:

- ``same``    the same backend (pod, pid) served both turns,
- ``cross``   another backend served the reply,
- ``unknown`` either side has no backend identity.

The causes are then read from the shape of the misses, in this order (each step takes the checks
it explains out of the pool the next steps look at, so one miss is never blamed twice):

1. cross-session-leak: a reply (any reply) carries codewords of another session.
2. lost-update: under concurrent turns, a codeword planted by an OK burst turn is missing from
   every later reply of its session, while those replies demonstrably read the shared history.
3. history-truncated: every reply keeps exactly the latest K expected codewords (same K >= 1).
4. process-local-state: cross-backend checks lose memory while same-backend checks keep it.
5. not-rehydrated: same-backend checks lose memory too (history is never restored).

A real LLM now and then leaves a codeword out of its list, so a class of checks only counts as
losing memory when its misses stand out from that noise (thresholds below, documented in
docs/probe-verdicts.md). Errors and retries are never evidence: a failed turn is not checked,
and codewords planted by failed turns are not expected.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from autogen_doctor import __version__
from autogen_doctor.probe.transcript import Backend, Transcript, TurnRecord
from autogen_doctor.probe.verdict import (
    CAUSE_ORDER,
    CROSS_SESSION_LEAK,
    EVIDENCE_CAP,
    HISTORY_TRUNCATED,
    INCONCLUSIVE,
    LOST_UPDATE,
    NOT_REHYDRATED,
    PASS,
    PROCESS_LOCAL_STATE,
    STATE_LOSS,
    BackendStats,
    CauseReport,
    Recall,
    Verdict,
)

# --- thresholds (documented in docs/probe-verdicts.md) -------------------------------------------
# A real model may leave out up to this share of codewords it was given; misses must stand out.
NOISE_RATE = 0.10
# Loss is called only when noise at NOISE_RATE would produce this many misses with at most this
# probability (a one-sided binomial test): a false alarm costs a team a day.
ALPHA = 0.01
# ... and only when at least this share of a class's checks was forgotten.
LOSS_RATE = 0.25
# process-local-state: cross-backend checks must forget this much more often than same-backend ones.
GAP = 0.30
# Marks the misses of burst codewords that fit the lost-update shape but are too few to call it.
UNPROVEN_HOLE = "unproven-hole"
# Without backend identity: loss with at most this recall is "nothing is ever recalled".
NOTHING_RECALLED = 0.05
# Fewer usable replies than this share of the turns sent, or fewer checks than this: too few to judge.
MIN_OK_SHARE = 0.5
MIN_CHECKS = 3

IDENTITY_HINT = (
    "add autogen_doctor.middleware to the service to expose X-Backend-Pid / X-Backend-Pod, "
    "or point --pid-header/--pod-header (or --pid-path/--pod-path) at what it already sends"
)


@dataclass(slots=True)
class _Check:
    """One recall check: did `reply` recall `word`, and which backend planted it."""

    reply: TurnRecord
    word: str
    planted: TurnRecord | None
    kind: str  # same | cross | unknown
    recalled: bool
    explained_by: str | None = None  # cause that accounts for this miss


@dataclass(slots=True)
class _Evidence:
    """Evidence lines of one cause, with the sessions they name (for per-session reports)."""

    count: int = 0
    lines: list[tuple[str, str]] = field(default_factory=list)  # (session, line)
    summary: str = ""

    def add(self, session: str, line: str) -> None:
        self.lines.append((session, line))


# --- small statistics ----------------------------------------------------------------------------

def _binomial_tail(successes: int, trials: int, rate: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, rate), computed in logs (large runs stay finite)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    log_rate, log_other = math.log(rate), math.log1p(-rate)
    total = 0.0
    for k in range(successes, trials + 1):
        log_term = (math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1)
                    + k * log_rate + (trials - k) * log_other)
        term = math.exp(log_term)
        total += term
        if k > trials * rate and term < total * 1e-15:
            break  # past the mode the terms only shrink
    return min(1.0, total)


def _poisson_tail(events: int, mean: float) -> float:
    """P(X >= events) for X ~ Poisson(mean)."""
    if events <= 0:
        return 1.0
    below = sum(math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1)) for i in range(events)) if mean > 0 else 1.0
    return max(0.0, 1.0 - below)


def beyond_noise(forgotten: int, total: int) -> bool:
    """True when `forgotten` of `total` checks is loss rather than a model's occasional slip."""
    if total <= 0 or forgotten <= 0:
        return False
    return forgotten / total >= LOSS_RATE and _binomial_tail(forgotten, total, NOISE_RATE) <= ALPHA + 1e-12


# --- helpers -------------------------------------------------------------------------------------

def _same_backend(a: Backend, b: Backend) -> bool | None:
    """True/False when both backends are known, None when either is not."""
    if not (a.known and b.known):
        return None
    return a == b


def _other_host(check: "_Check") -> bool:
    """The reply came from another pod than the planting turn (another pid when pods are unknown)."""
    if check.planted is None:
        return False
    mine, theirs = check.reply.backend, check.planted.backend
    if mine.pod is not None and theirs.pod is not None:
        return mine.pod != theirs.pod
    return mine != theirs


def _turn_list(turns: list[int]) -> str:
    turns = sorted(set(turns))
    return f"turn {turns[0]}" if len(turns) == 1 else "turns " + ", ".join(str(t) for t in turns)


def _on(record: TurnRecord) -> str:
    return f" on {record.backend.label}" if record.backend.known else ""


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def _ordered_sessions(transcript: Transcript) -> list[str]:
    order = list(transcript.codewords_by_session)
    seen = set(order)
    for record in transcript.records:
        if record.session not in seen:
            seen.add(record.session)
            order.append(record.session)
    return order


def _records_by_session(transcript: Transcript) -> dict[str, list[TurnRecord]]:
    grouped: dict[str, list[TurnRecord]] = {session: [] for session in _ordered_sessions(transcript)}
    for record in transcript.records:
        grouped[record.session].append(record)
    for records in grouped.values():
        records.sort(key=lambda record: record.turn)
    return grouped


def _judged(record: TurnRecord) -> bool:
    return record.ok and not record.burst


# --- the analysis --------------------------------------------------------------------------------

def _build_checks(by_session: dict[str, list[TurnRecord]]) -> list[_Check]:
    checks: list[_Check] = []
    for records in by_session.values():
        planted_by = {record.planted: record for record in records}
        for record in records:
            if not _judged(record):
                continue
            recalled = set(record.recalled)
            for word in record.expected:
                planter = planted_by.get(word)
                same = _same_backend(record.backend, planter.backend) if planter else None
                kind = "unknown" if same is None else ("same" if same else "cross")
                checks.append(_Check(record, word, planter, kind, word in recalled))
    return checks


def _find_leaks(transcript: Transcript, by_session: dict[str, list[TurnRecord]]) -> _Evidence:
    owner = {word: session for session, words in transcript.codewords_by_session.items() for word in words}
    for session, records in by_session.items():
        for record in records:
            owner.setdefault(record.planted, session)
    found = _Evidence()
    for session, records in by_session.items():
        for record in records:
            # Any reply counts, even an error page: another user's words in it are a breach.
            foreign = [word for word in record.foreign if owner.get(word) != session]
            if not foreign:
                continue
            found.count += len(foreign)
            sources = sorted({owner.get(word, "another session") for word in foreign})
            found.add(session, f"session {session}: turn {record.turn}{_on(record)} replied with "
                               f"{_plural(len(foreign), 'codeword')} of {', '.join(sources)} "
                               f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''})")
    if found.count:
        sessions = {session for session, _ in found.lines}
        found.summary = (f"{_plural(found.count, 'codeword')} of other sessions appeared in replies of "
                         f"{_plural(len(sessions), 'session')}: state is shared between users")
    return found


def _find_holes(by_session: dict[str, list[TurnRecord]], checks: list[_Check]) -> tuple[_Evidence, list[str]]:
    """lost-update: burst codewords missing from every later reply that reads the shared history.

    Returns the evidence (count = hole codewords) and notes. Checks of a reported hole are marked.
    """
    checks_by_reply: dict[int, list[_Check]] = {}
    for check in checks:
        checks_by_reply.setdefault(id(check.reply), []).append(check)

    # The run proves the store is shared when some reply recalled a codeword another pod (or,
    # without pods, another process) received; then a burst word missing on another backend is a
    # hole, not a split. Per-pod storage shared by a pod's workers does not count as proof.
    shared_store_seen = any(check.recalled and check.kind == "cross" and _other_host(check) for check in checks)
    # Within one pod, a word recalled by another worker of that pod proves the pod's workers share
    # a store: a burst word then missing on a sibling worker is a hole too (uvicorn --workers N).
    pods_sharing = {check.reply.backend.pod for check in checks
                    if check.recalled and check.kind == "cross" and check.planted is not None
                    and check.reply.backend.pod is not None and check.reply.backend.pod == check.planted.backend.pod}
    holes: list[tuple[str, TurnRecord, list[TurnRecord], bool]] = []  # session, planter, later, tied
    noise_mean = 0.0
    for session, records in by_session.items():
        burst = [record for record in records if record.burst and record.ok]
        if not burst:
            continue
        last_burst_turn = max(record.turn for record in records if record.burst)
        later = [record for record in records if _judged(record) and record.turn > last_burst_turn]
        for planter in burst:
            word = planter.planted
            checking = [record for record in later if word in record.expected]
            if not checking:
                continue
            if any(check.explained_by for record in checking for check in checks_by_reply.get(id(record), [])
                   if check.word == word):
                continue  # already explained (a window dropped it)
            noise_mean += NOISE_RATE ** len(checking)
            if any(word in record.recalled for record in checking):
                continue

            def reads_shared_history(record: TurnRecord) -> bool:
                mine = checks_by_reply.get(id(record), [])
                if not any(check.recalled for check in mine):
                    return False  # recalls nothing at all: that is not a hole, it is no history
                if _same_backend(record.backend, planter.backend) or shared_store_seen:
                    return True
                pod = record.backend.pod
                if pod is not None and pod == planter.backend.pod and pod in pods_sharing:
                    return True
                return any(check.recalled and check.kind == "cross" for check in mine)

            tied = any(reads_shared_history(record) for record in checking)
            if not tied and not any(record.backend.known for record in checking + [planter]):
                # No identity: accept a hole only when every later reply agrees on the burst
                # codewords it recalls (a per-process split would make them disagree).
                burst_words = {record.planted for record in burst}
                seen = [frozenset(set(record.recalled) & burst_words) for record in checking]
                tied = bool(seen[0]) and len(set(seen)) == 1
            if tied:
                holes.append((session, planter, checking, planter.backend.known))

    found = _Evidence()
    notes: list[str] = []
    if holes and _poisson_tail(len(holes), noise_mean) <= ALPHA:
        found.count = len(holes)
        words = {(session, planter.planted) for session, planter, _, _ in holes}
        for check in checks:
            if (check.reply.session, check.word) in words and not check.recalled:
                check.explained_by = LOST_UPDATE
        for session, planter, later, _ in holes:
            seen_in = ", ".join(f"turn {record.turn}{_on(record)}" for record in later)
            found.add(session, f"session {session}: the codeword planted in the burst at turn "
                               f"{planter.turn}{_on(planter)} ({planter.planted}, reply OK) is missing "
                               f"from every later reply ({seen_in})")
        sessions = {session for session, *_ in holes}
        found.summary = (f"{_plural(len(holes), 'codeword')} planted by concurrent turns vanished for good "
                         f"in {_plural(len(sessions), 'session')}, while later replies recalled the others")
        if not all(tied for *_, tied in holes):
            notes.append("some lost updates could not be tied to a backend (no identity); " + IDENTITY_HINT)
    elif holes:
        # Not blamed on anything else either: these words fit the lost-update shape.
        words = {(session, planter.planted) for session, planter, _, _ in holes}
        for check in checks:
            if (check.reply.session, check.word) in words and not check.recalled:
                check.explained_by = UNPROVEN_HOLE
        notes.append(f"{_plural(len(holes), 'codeword')} planted by concurrent turns never came back, too "
                     f"few to tell a lost update from a model leaving words out; rerun with more --sessions")
    return found, notes


def _find_window(checks: list[_Check], by_session: dict[str, list[TurnRecord]], *,
                 same_backend_only: bool = False) -> tuple[_Evidence, int | None]:
    """history-truncated: every reply keeps exactly the latest K expected codewords, K >= 1.

    With `same_backend_only`, each reply is judged on the codewords planted on its own backend
    only (the others belong to process-local-state): a per-process store with a window.
    """
    failed_turns = {session: sum(1 for record in records if not record.ok) for session, records in by_session.items()}
    replies: dict[int, list[_Check]] = {}
    for check in checks:
        if check.explained_by is None and (check.kind == "same" or not same_backend_only):
            replies.setdefault(id(check.reply), []).append(check)
    shapes = []  # (reply, kept, expected, is_suffix)
    for group in replies.values():
        ordered = sorted(group, key=lambda check: check.planted.turn if check.planted else 0)
        flags = [check.recalled for check in ordered]
        kept = sum(flags)
        is_suffix = flags == [False] * (len(flags) - kept) + [True] * kept
        shapes.append((group[0].reply, kept, len(flags), is_suffix, ordered))
    dropping = [shape for shape in shapes if shape[1] < shape[2]]
    if len(dropping) < 2:
        return _Evidence(), None
    window = Counter(kept for _, kept, _, _, _ in dropping).most_common(1)[0][0]
    if window < 1:
        return _Evidence(), None

    def fits(shape) -> bool:
        reply, kept, expected, is_suffix, _ = shape
        if not is_suffix:
            return False
        if expected <= window:
            return kept == expected
        # A turn that failed may still have been stored by the service, filling a window slot.
        return window - failed_turns.get(reply.session, 0) <= kept <= window

    relevant = [shape for shape in shapes if shape[2] > 0]
    fitting = [shape for shape in relevant if fits(shape)]
    truly_dropping = [shape for shape in fitting if shape[1] < shape[2]]
    if len(truly_dropping) < 2 or len(fitting) < (1 - NOISE_RATE) * len(relevant):
        return _Evidence(), None

    found = _Evidence(count=len(truly_dropping))
    for reply, kept, expected, _, ordered in truly_dropping:
        for check in ordered:
            if not check.recalled:
                check.explained_by = HISTORY_TRUNCATED
        dropped_turns = [check.planted.turn for check in ordered if not check.recalled and check.planted]
        found.add(reply.session, f"session {reply.session}: turn {reply.turn}{_on(reply)} recalled the latest "
                                 f"{kept} of {expected} codewords and dropped the oldest "
                                 f"({_turn_list(dropped_turns) if dropped_turns else 'unknown turns'})")
    found.summary = (f"every reply kept only the latest {window} codeword{'s' if window != 1 else ''}; "
                     f"{_plural(len(truly_dropping), 'reply', 'replies')} dropped older ones, on any backend")
    return found, window


def _forgetting_lines(pool: list[_Check], describe, all_checks: list[_Check]) -> list[tuple[str, str]]:
    """One evidence line per reply with misses in `pool`: `describe(reply, forgotten, reply_checks)`."""
    by_reply: dict[int, list[_Check]] = {}
    for check in all_checks:
        by_reply.setdefault(id(check.reply), []).append(check)
    in_pool = {id(check) for check in pool}
    lines = []
    for position, group in enumerate(by_reply.values()):
        forgotten = [check for check in group if not check.recalled and id(check) in in_pool]
        if forgotten:
            reply = group[0].reply
            # Strongest first: a reply that kept its own backend's words yet lost the others'.
            kept_own = any(check.recalled and check.kind == "same" for check in group)
            lines.append(((not kept_own, reply.turn, position), reply.session, describe(reply, forgotten, group)))
    lines.sort(key=lambda item: item[0])
    return [(session, line) for _, session, line in lines]


def _origins(forgotten: list[_Check]) -> str:
    """"pod-a/pid 17 (turns 1, 3), pod-b/pid 41 (turn 2)": where the forgotten words were planted."""
    turns_by_backend: dict[str, list[int]] = {}
    for check in forgotten:
        turns_by_backend.setdefault(check.planted.backend.label, []).append(check.planted.turn)
    return ", ".join(f"{label} ({_turn_list(turns)})" for label, turns in turns_by_backend.items())


def _describe_cross(reply: TurnRecord, forgotten: list[_Check], group: list[_Check]) -> str:
    origins = _origins(forgotten)
    what = "the codeword" if len(forgotten) == 1 else f"{len(forgotten)} codewords"
    line = f"session {reply.session}: turn {reply.turn} on {reply.backend.label} forgot {what} planted on {origins}"
    kept_same = [check for check in group if check.recalled and check.kind == "same"]
    if kept_same:
        line += f"; it recalled the {_plural(len(kept_same), 'codeword')} planted on its own backend"
    return line


def _describe_same(reply: TurnRecord, forgotten: list[_Check], group: list[_Check]) -> str:
    turns = _turn_list([check.planted.turn for check in forgotten])
    what = "the codeword" if len(forgotten) == 1 else f"{len(forgotten)} codewords"
    return (f"session {reply.session}: turn {reply.turn} on {reply.backend.label} forgot {what} "
            f"planted on that same backend ({turns})")


def _describe_unknown(reply: TurnRecord, forgotten: list[_Check], group: list[_Check]) -> str:
    turns = _turn_list([check.planted.turn for check in forgotten if check.planted] or [0])
    return (f"session {reply.session}: turn {reply.turn} forgot {len(forgotten)} of {len(group)} "
            f"earlier codewords ({turns}); the backend that served it is unknown")


def _class_counts(checks: list[_Check], kind: str) -> tuple[int, int]:
    """(total, forgotten) of the checks of one kind still unexplained by an earlier cause."""
    pool = [check for check in checks if check.kind == kind and check.explained_by is None]
    return len(pool), sum(1 for check in pool if not check.recalled)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def analyse(transcript: Transcript) -> Verdict:
    """Judge a probe run: verdict, primary cause, every cause with evidence, and the figures.

    Pure: reads only `transcript`, never the network or the clock.
    """
    by_session = _records_by_session(transcript)
    records = [record for records in by_session.values() for record in records]
    checks = _build_checks(by_session)
    notes: list[str] = []
    found: dict[str, _Evidence] = {}

    leaks = _find_leaks(transcript, by_session)
    if leaks.count:
        found[CROSS_SESSION_LEAK] = leaks

    # A steady window first: under concurrent turns its dropped words would look like holes.
    window_evidence, window = _find_window(checks, by_session)

    if transcript.concurrent_turns or any(record.burst for record in records):
        holes, hole_notes = _find_holes(by_session, checks)
        notes.extend(hole_notes)
        if holes.count:
            found[LOST_UPDATE] = holes

    if not window_evidence.count:
        cross_total, cross_forgot = _class_counts(checks, "cross")
        if beyond_noise(cross_forgot, cross_total):
            window_evidence, window = _find_window(checks, by_session, same_backend_only=True)
    if window_evidence.count:
        found[HISTORY_TRUNCATED] = window_evidence

    same_total, same_forgot = _class_counts(checks, "same")
    cross_total, cross_forgot = _class_counts(checks, "cross")
    unknown_total, unknown_forgot = _class_counts(checks, "unknown")
    same_rate, cross_rate = _rate(same_forgot, same_total), _rate(cross_forgot, cross_total)

    # A split: cross-backend checks lose memory while same-backend ones do not (or clearly less).
    if beyond_noise(cross_forgot, cross_total) and (not beyond_noise(same_forgot, same_total)
                                                    or cross_rate - same_rate >= GAP):
        evidence = _Evidence(count=cross_forgot)
        pool = [check for check in checks if check.kind == "cross" and check.explained_by is None]
        evidence.lines = _forgetting_lines(pool, _describe_cross, checks)
        evidence.summary = (f"{cross_forgot} of {cross_total} codewords were forgotten when another backend "
                            f"served the next turn")
        if same_total:
            evidence.summary += (f"; {same_total - same_forgot} of {same_total} were recalled when the same "
                                 f"backend served it")
        else:
            notes.append("no codeword was ever checked on the backend that received it, so not-rehydrated "
                         "cannot be ruled out")
        for check in pool:
            if not check.recalled:
                check.explained_by = PROCESS_LOCAL_STATE
        found[PROCESS_LOCAL_STATE] = evidence

    if beyond_noise(same_forgot, same_total):
        evidence = _Evidence(count=same_forgot)
        pool = [check for check in checks if check.kind == "same" and check.explained_by is None]
        evidence.lines = _forgetting_lines(pool, _describe_same, checks)
        evidence.summary = (f"{same_forgot} of {same_total} codewords were forgotten even though the backend "
                            f"that received them served the reply")
        if PROCESS_LOCAL_STATE not in found:
            # Memory is lost on every backend: the cross-backend misses have the same cause.
            others = [check for check in checks if check.kind == "cross" and check.explained_by is None]
            evidence.count += sum(1 for check in others if not check.recalled)
            evidence.lines += _forgetting_lines(others, _describe_cross, checks)
            pool += others
            if cross_forgot:
                evidence.summary += (f", and {cross_forgot} of {cross_total} when another backend served it")
        for check in pool:
            if not check.recalled:
                check.explained_by = NOT_REHYDRATED
        found[NOT_REHYDRATED] = evidence

    if beyond_noise(unknown_forgot, unknown_total):
        pool = [check for check in checks if check.kind == "unknown" and check.explained_by is None]
        recall_rate = 1 - _rate(unknown_forgot, unknown_total)
        cause = NOT_REHYDRATED if recall_rate <= NOTHING_RECALLED else PROCESS_LOCAL_STATE
        evidence = found.setdefault(cause, _Evidence())
        evidence.count += unknown_forgot
        evidence.lines.extend(_forgetting_lines(pool, _describe_unknown, checks))
        pattern = ("nothing earlier is ever recalled" if cause == NOT_REHYDRATED
                   else "earlier codewords are recalled on some turns and lost on others")
        extra = (f"{unknown_forgot} of {unknown_total} codewords were forgotten with no backend identity; "
                 f"{pattern}")
        evidence.summary = f"{evidence.summary}; {extra}" if evidence.summary else extra
        notes.append(f"the loss could not be tied to a backend ({pattern}, which points to {cause}); "
                     + IDENTITY_HINT)
        for check in pool:
            if not check.recalled:
                check.explained_by = cause

    unexplained = [check for check in checks if not check.recalled and check.explained_by in (None, UNPROVEN_HOLE)]
    unproven_holes = any(check.explained_by == UNPROVEN_HOLE for check in checks)

    # --- figures -------------------------------------------------------------------------------
    ok_records = [record for record in records if record.ok]
    errors = len(records) - len(ok_records)
    retries = sum(max(0, record.attempts - 1) for record in records)
    backend_replies: Counter[Backend] = Counter(record.backend for record in ok_records if record.backend.known)
    first_seen: dict[Backend, int] = {}
    for index, record in enumerate(records):
        if record.ok and record.backend.known:
            first_seen.setdefault(record.backend, index)
    backends = [BackendStats(backend.pod, backend.pid, backend_replies[backend])
                for backend in sorted(backend_replies, key=lambda backend: first_seen[backend])]
    recall = Recall(expected=len(checks), recalled=sum(1 for check in checks if check.recalled))
    check_counts = {
        kind: {"expected": total, "recalled": total - forgot}
        for kind, total, forgot in (
            ("same", *_check_totals(checks, "same")),
            ("cross", *_check_totals(checks, "cross")),
            ("unknown", *_check_totals(checks, "unknown")),
        )
    }
    cross_recalled = check_counts["cross"]["recalled"]

    # --- verdict -------------------------------------------------------------------------------
    causes = [CauseReport(cause, found[cause].count,
                          [line for _, line in found[cause].lines[:EVIDENCE_CAP]], found[cause].summary,
                          evidence_omitted=max(0, len(found[cause].lines) - EVIDENCE_CAP))
              for cause in CAUSE_ORDER if cause in found]
    sent = len(records)
    identity_seen = bool(backend_replies)
    if causes:
        verdict, cause = STATE_LOSS, causes[0].cause
        reason = f"{cause}: {causes[0].summary}."
    else:
        verdict, cause = INCONCLUSIVE, None
        if not ok_records:
            reason = (f"no usable reply: all {sent} turns failed" if sent else "the transcript has no turns")
            reason += "; check the URL, --body and --reply-path"
        elif len(ok_records) < MIN_OK_SHARE * sent or len(checks) < MIN_CHECKS:
            reason = (f"too few replies to judge: {len(ok_records)} of {sent} turns got a usable reply "
                      f"and {_plural(len(checks), 'recall check')} could be made; fix the errors or raise --retries, "
                      f"--timeout, --sessions")
        elif unproven_holes:
            reason = ("some codewords planted by concurrent turns never came back, too few to tell a lost "
                      "update from a model leaving words out; rerun with more --sessions and --turns 4 or more")
        elif unexplained and len(unexplained) > NOISE_RATE * len(checks):
            reason = (f"{len(unexplained)} of {len(checks)} recall checks failed without a clear pattern, too "
                      f"few to tell state loss from a model leaving words out; rerun with more --sessions "
                      f"and --turns")
        elif not identity_seen:
            reason = ("no loss seen, but the service exposes no backend identity, so a change of backend "
                      "could not be shown; " + IDENTITY_HINT)
        elif cross_recalled == 0 and len(backends) <= 1:
            only = backends[0].label if backends else "one backend"
            reason = (f"no loss seen, but only one backend ({only}) answered, so no turn moved to another "
                      f"process; run several workers or replicas, or probe through the load balancer")
        elif cross_recalled == 0:
            reason = (f"no loss seen, but no session ever changed backend between turns although "
                      f"{len(backends)} backends answered (sticky routing); drop session affinity for the "
                      f"probe or leave --reuse-connections off")
        elif unexplained:
            # The contract's `pass` means every reply recalled every earlier codeword; a few scattered
            # misses are too few to call loss and too many to call a pass.
            reason = (f"{len(unexplained)} of {len(checks)} recall checks failed without a pattern of loss "
                      f"({cross_recalled} codewords were recalled by a different backend); pass needs every "
                      f"codeword recalled, so rerun with more --sessions and --turns to tell a model leaving "
                      f"words out from state loss")
        else:
            verdict = PASS
            reason = (f"every earlier codeword was recalled, {cross_recalled} of them by a different backend "
                      f"from the one that received it")

    scattered = [check for check in unexplained if check.explained_by is None]
    if scattered and (verdict != INCONCLUSIVE or "without a clear pattern" not in reason):
        notes.append(f"{_plural(len(scattered), 'recall check')} failed without a pattern of loss "
                     f"(at most {NOISE_RATE:.0%} is treated as a model leaving words out)")
    if window is not None:
        notes.append(f"window: the service keeps the latest {window} codeword{'s' if window != 1 else ''}")
    if errors or retries:
        notes.append(f"{_plural(errors, 'turn')} failed after retries and {_plural(retries, 'retry', 'retries')} "
                     f"{'was' if retries == 1 else 'were'} spent; errors are never counted as loss, and "
                     f"codewords planted by failed turns are not expected")
    if NOT_REHYDRATED in found and identity_seen:
        # A backend only as precise as its identity: workers of one pod, or pods that all run as
        # PID 1, look like one backend and their split would read as "not restored".
        if all(backend.pid is None for backend in backend_replies):
            notes.append("backends are told apart by pod only: several workers inside one pod would look like "
                         "one backend; expose the PID too (X-Backend-Pid) to tell not-rehydrated from a split")
        elif all(backend.pod is None for backend in backend_replies):
            notes.append("backends are told apart by PID only: pods that all run as PID 1 would look like one "
                         "backend; expose the pod name too (X-Backend-Pod)")
    if identity_seen and any(record.ok and not record.backend.known for record in records):
        notes.append("some replies carried no backend identity; their checks could not be tied to a backend")
    if not identity_seen and verdict == STATE_LOSS and not any("could not be tied" in note for note in notes):
        notes.append("the cause could not be tied to a backend (no identity in the replies); " + IDENTITY_HINT)

    return Verdict(
        verdict=verdict,
        cause=cause,
        causes=causes,
        reason=reason,
        url=transcript.url,
        sessions=transcript.sessions or len(by_session),
        turns=transcript.turns,
        replies=len(ok_records),
        errors=errors,
        retries=retries,
        backends=backends,
        recall=recall,
        per_session=_per_session(by_session, checks, found),
        duration_s=transcript.duration_s,
        version=__version__,
        identity_source=transcript.identity_source,
        notes=notes,
        checks=check_counts,
    )


def _check_totals(checks: list[_Check], kind: str) -> tuple[int, int]:
    pool = [check for check in checks if check.kind == kind]
    return len(pool), sum(1 for check in pool if not check.recalled)


def _per_session(by_session: dict[str, list[TurnRecord]], checks: list[_Check],
                 found: dict[str, _Evidence]) -> list[dict]:
    rows = []
    checks_by_session: dict[str, list[_Check]] = {}
    for check in checks:
        checks_by_session.setdefault(check.reply.session, []).append(check)
    lines_by_session: dict[str, list[tuple[str, str]]] = {}
    for cause in CAUSE_ORDER:
        for owner, line in found[cause].lines if cause in found else ():
            lines_by_session.setdefault(owner, []).append((cause, line))
    for session, records in by_session.items():
        mine = checks_by_session.get(session, [])
        labels: list[str] = []
        for record in records:
            if record.ok and record.backend.known and record.backend.label not in labels:
                labels.append(record.backend.label)
        evidence = [line for _, line in lines_by_session.get(session, [])]
        rows.append({
            "session": session,
            "turns": len(records),
            "replies": sum(1 for record in records if record.ok),
            "errors": sum(1 for record in records if not record.ok),
            "backends": labels,
            "expected": len(mine),
            "recalled": sum(1 for check in mine if check.recalled),
            "forgotten": sum(1 for check in mine if not check.recalled),
            "foreign": sum(len(record.foreign) for record in records),
            "causes": list(dict.fromkeys(cause for cause, _ in lines_by_session.get(session, []))),
            "evidence": evidence[:EVIDENCE_CAP],
        })
    return rows
