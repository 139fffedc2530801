"""Property tests: over random routings, a service that keeps its history never gets a state-loss
verdict, a per-process one never passes once a session moved to another backend and came back,
and the analysis does not depend on record order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from test_analysis_builders import simulate

from autogen_doctor.probe.analysis import analyse

BACKENDS = ["pod-a/1", "pod-b/1", "pod-c/7", "pod-d/9"]


@st.composite
def routings(draw, min_backends: int = 1):
    pool = draw(st.lists(st.sampled_from(BACKENDS), min_size=min_backends, max_size=4, unique=True))
    sessions = draw(st.integers(1, 6))
    turns = draw(st.integers(2, 6))
    return [[draw(st.sampled_from(pool)) for _ in range(turns)] for _ in range(sessions)]


@st.composite
def error_sets(draw, routes):
    cells = [(s, t) for s, row in enumerate(routes) for t in range(1, len(row) + 1)]
    return frozenset(draw(st.lists(st.sampled_from(cells), max_size=len(cells) // 3, unique=True)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_store_every_backend_shares_never_gives_state_loss(data):
    routes = data.draw(routings())
    errors = data.draw(error_sets(routes))
    hide = data.draw(st.booleans())
    verdict = analyse(simulate(routes, "shared", errors=errors, hide_identity=hide))
    assert verdict.verdict in ("pass", "inconclusive")
    assert verdict.causes == []
    if hide:
        assert verdict.verdict == "inconclusive"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_pass_needs_a_codeword_recalled_by_another_backend(data):
    routes = data.draw(routings())
    verdict = analyse(simulate(routes, "shared"))
    if verdict.verdict == "pass":
        assert verdict.checks["cross"]["recalled"] >= 1
    moved = any(row[t] != row[u] for row in routes for u in range(len(row)) for t in range(u))
    if not moved:
        assert verdict.verdict == "inconclusive"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_per_process_store_never_passes_once_the_backend_changed(data):
    routes = data.draw(routings(min_backends=2))
    verdict = analyse(simulate(routes, "process"))
    moved = any(row[t] != row[u] for row in routes for u in range(len(row)) for t in range(u))
    if moved:
        assert verdict.verdict != "pass"
    if verdict.verdict == "state-loss":
        assert verdict.cause == "process-local-state"


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_store_that_keeps_nothing_never_passes(data):
    routes = data.draw(routings())
    verdict = analyse(simulate(routes, "none"))
    assert verdict.verdict != "pass"
    assert "history-truncated" not in [report.cause for report in verdict.causes]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_verdict_does_not_depend_on_record_order(data):
    routes = data.draw(routings())
    store = data.draw(st.sampled_from(["shared", "process", "none"]))
    transcript = simulate(routes, store)
    first = analyse(transcript).to_json()
    random.Random(data.draw(st.integers(0, 10**6))).shuffle(transcript.records)
    second = analyse(transcript).to_json()
    assert first["verdict"] == second["verdict"] and first["cause"] == second["cause"]
    assert first["recall"] == second["recall"] and first["checks"] == second["checks"]


@st.composite
def burst_runs(draw):
    pool = draw(st.lists(st.sampled_from(BACKENDS), min_size=2, max_size=4, unique=True))
    sessions = draw(st.integers(2, 8))
    turns = draw(st.integers(3, 6))
    burst = turns - 1 if turns == 3 else turns - 2
    routes = [[draw(st.sampled_from(pool)) for _ in range(turns)] for _ in range(sessions)]
    # Concurrent read-modify-writes: the last writer's word always survives, others may vanish.
    lost = set()
    for session in range(sessions):
        survivor = draw(st.integers(1, burst))
        lost |= {(session, turn) for turn in range(1, burst + 1) if turn != survivor and draw(st.booleans())}
    return routes, burst, frozenset(lost)


@settings(max_examples=150, deadline=None)
@given(burst_runs())
def test_lost_updates_in_a_shared_store_are_never_blamed_on_backends(run):
    routes, burst, lost = run
    verdict = analyse(simulate(routes, "shared", burst=burst, lost=lost))
    causes = [report.cause for report in verdict.causes]
    assert "not-rehydrated" not in causes
    if verdict.checks["cross"]["recalled"] > 0:
        # Once the run shows backends sharing the store, a vanished word is a hole, not a split.
        # (Without that proof, a word lost on another backend looks exactly like a split, and on
        # a tiny run a lost oldest word may look like a window of the latest K.)
        assert set(causes) <= {"lost-update", "history-truncated"}
    if not lost:
        assert verdict.verdict != "state-loss"


@settings(max_examples=150, deadline=None)
@given(burst_runs())
def test_a_per_process_store_under_concurrent_turns_is_never_called_lost_update(run):
    routes, burst, _ = run
    verdict = analyse(simulate(routes, "process", burst=burst))
    assert "lost-update" not in [report.cause for report in verdict.causes]
