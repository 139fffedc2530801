"""Hand-made transcripts for the analysis and reporter tests (no tests in this module).

`simulate` plays a small model of a chat service: turns are routed to backends as told, and the
service's storage decides what each reply can recall. The transcripts look like what the sender
records, so the tests state the *storage behaviour* and check the verdict the analysis derives.
"""

from __future__ import annotations

from autogen_doctor.probe.transcript import Backend, Transcript, TurnRecord


def backend(label: str | None) -> Backend:
    """"pod-a/17" -> Backend(pod="pod-a", pid="17"); "17" -> pid only; None -> unknown."""
    if label is None:
        return Backend()
    if "/" in label:
        pod, pid = label.split("/", 1)
        return Backend(pod=pod, pid=pid)
    return Backend(pid=label)


def codeword(session_index: int, turn: int) -> str:
    return f"adr-s{session_index:02d}t-{turn:04d}"


def simulate(
    routes: list[list[str | None]],
    store: str = "shared",
    *,
    window: int | None = None,
    errors: frozenset[tuple[int, int]] = frozenset(),
    burst: int = 0,
    lost: frozenset[tuple[int, int]] = frozenset(),
    leak_into: frozenset[tuple[int, int]] = frozenset(),
    slips: frozenset[tuple[int, int, int]] = frozenset(),
    attempts: dict[tuple[int, int], int] | None = None,
    identity_source: str | None = "header X-Backend-Pid",
    hide_identity: bool = False,
) -> Transcript:
    """A transcript of sessions routed as `routes[session][turn-1]` on a service storing history so:

    - ``shared``: every backend reads one store (Redis); ``process``: one dict per backend;
      ``none``: nothing is kept; ``window``: shared store keeping the latest `window` words.
    - `errors`: (session, turn) that failed with 500 (not stored, no reply).
    - `burst`: the first `burst` turns of each session are sent at once (concurrent turns).
    - `lost`: (session, turn) whose planted word the store lost (a lost update).
    - `leak_into`: (session, turn) whose reply also shows session 0's first codeword.
    - `slips`: (session, turn, planted_turn) the "model" left out although it was stored.
    - `hide_identity`: route as told, but record no backend (a service exposing no identity).
    """
    attempts = attempts or {}
    if hide_identity:
        identity_source = None
    seen_as = (lambda where: Backend()) if hide_identity else backend
    transcript = Transcript(url="http://127.0.0.1:9/chat", sessions=len(routes),
                            turns=max(len(r) for r in routes), concurrent_turns=burst > 0,
                            identity_source=identity_source)
    for s_index, route in enumerate(routes):
        session = f"adr-s{s_index}-test"
        words = [codeword(s_index, turn) for turn in range(1, len(route) + 1)]
        transcript.codewords_by_session[session] = words
        stores: dict[str | None, list[int]] = {}
        for turn, where in enumerate(route, start=1):
            failed = (s_index, turn) in errors
            key = where if store == "process" else "shared"
            history = stores.setdefault(key, [])
            if store == "none":
                history = []
            ok_before = [t for t in range(1, turn) if (s_index, t) not in errors]
            is_burst = turn <= burst
            if failed:
                record = TurnRecord(session=session, turn=turn, planted=words[turn - 1], status=500,
                                    backend=seen_as(where), burst=is_burst,
                                    attempts=attempts.get((s_index, turn), 3))
            else:
                visible = [t for t in history if (s_index, t) not in lost]
                if window is not None:
                    visible = visible[-window:]
                expected = [words[t - 1] for t in ok_before]
                recalled = [words[t - 1] for t in ok_before
                            if t in visible and (s_index, turn, t) not in slips]
                foreign = [codeword(0, 1)] if (s_index, turn) in leak_into and s_index != 0 else []
                record = TurnRecord(session=session, turn=turn, planted=words[turn - 1], expected=expected,
                                    recalled=recalled, foreign=foreign, backend=seen_as(where), status=200,
                                    burst=is_burst, attempts=attempts.get((s_index, turn), 1),
                                    reply_text="I remember: " + ", ".join(recalled + foreign))
                if store != "none":
                    history.append(turn)
            transcript.records.append(record)
    return transcript


def round_robin(sessions: int, turns: int, backends: list[str | None]) -> list[list[str | None]]:
    """Turns dealt to backends in order, across sessions, like a round-robin balancer."""
    counter = 0
    routes = []
    for _ in range(sessions):
        row = []
        for _ in range(turns):
            row.append(backends[counter % len(backends)])
            counter += 1
        routes.append(row)
    return routes
