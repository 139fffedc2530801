"""The analysis on hand-made transcripts: every verdict and cause, their look-alikes, precedence.

The transcripts come from `simulate` (test_analysis_builders.py): the test states how the service
stores history and how turns are routed; the analysis must derive the verdict from the replies.
"""

from __future__ import annotations

import copy
import json

from test_analysis_builders import codeword, round_robin, simulate

from autogen_doctor.exit_codes import ExitCode
from autogen_doctor.probe.analysis import analyse, beyond_noise
from autogen_doctor.probe.transcript import Backend, Transcript, TurnRecord

A, B, C, D = "pod-a/17", "pod-b/41", "pod-c/9", "pod-d/3"
FOUR = [A, B, C, D]


def causes_of(verdict) -> list[str]:
    return [report.cause for report in verdict.causes]


# --- pass and its conditions -----------------------------------------------------------------

def test_shared_store_behind_round_robin_passes():
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "shared"))
    assert verdict.verdict == "pass"
    assert verdict.cause is None and verdict.causes == []
    assert verdict.exit_code() == ExitCode.OK
    assert verdict.checks["cross"]["recalled"] > 0
    assert verdict.recall.rate == 1.0
    assert [b.label for b in verdict.backends] == ["pod-a/pid 17", "pod-b/pid 41", "pod-c/pid 9", "pod-d/pid 3"]
    assert sum(b.replies for b in verdict.backends) == verdict.replies == 32


def test_flaky_service_with_full_recall_passes_and_counts_errors_and_retries():
    # One request in four fails with 500 after retries; the service never stores a failed turn.
    errors = frozenset((s, t) for s in range(8) for t in range(1, 5) if (s * 4 + t) % 4 == 0)
    attempts = {(0, 2): 2, (3, 3): 3}
    verdict = analyse(simulate(round_robin(8, 4, FOUR[:2]), "shared", errors=errors, attempts=attempts))
    assert verdict.verdict == "pass"
    assert verdict.errors == len(errors) == 8
    assert verdict.retries == 8 * 2 + 1 + 2  # failed turns default to 3 attempts
    assert verdict.replies == 24
    assert any("never counted as loss" in note for note in verdict.notes)


def test_one_worker_with_memory_is_inconclusive_and_says_why():
    verdict = analyse(simulate(round_robin(8, 4, ["4242"]), "shared"))
    assert verdict.verdict == "inconclusive"
    assert verdict.exit_code() == ExitCode.INCONCLUSIVE
    assert "only one backend" in verdict.reason and "pid 4242" in verdict.reason


def test_sticky_routing_over_several_backends_is_inconclusive():
    routes = [[FOUR[s % 4]] * 4 for s in range(8)]
    verdict = analyse(simulate(routes, "process"))  # process-local, but never exercised
    assert verdict.verdict == "inconclusive"
    assert "sticky" in verdict.reason
    assert len(verdict.backends) == 4


def test_no_identity_and_no_loss_is_inconclusive_and_points_to_the_middleware():
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "shared", hide_identity=True))
    assert verdict.verdict == "inconclusive"
    assert "autogen_doctor.middleware" in verdict.reason and "X-Backend-Pid" in verdict.reason
    assert verdict.backends == []


def test_all_turns_failed_is_inconclusive_not_loss():
    errors = frozenset((s, t) for s in range(3) for t in range(1, 4))
    verdict = analyse(simulate(round_robin(3, 3, FOUR), "none", errors=errors))
    assert verdict.verdict == "inconclusive"
    assert verdict.replies == 0 and verdict.errors == 9
    assert "no usable reply" in verdict.reason


def test_mostly_failing_service_is_too_few_to_judge():
    errors = frozenset((s, t) for s in range(6) for t in range(2, 5))  # only first turns answer
    verdict = analyse(simulate(round_robin(6, 4, FOUR), "shared", errors=errors))
    assert verdict.verdict == "inconclusive"
    assert "too few replies" in verdict.reason


def test_empty_transcript_is_inconclusive():
    verdict = analyse(Transcript(url="http://x", sessions=0, turns=0))
    assert verdict.verdict == "inconclusive"


# --- process-local-state ---------------------------------------------------------------------

def test_process_local_dict_with_four_workers_is_process_local_state():
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "process"))
    assert verdict.verdict == "state-loss"
    assert verdict.cause == "process-local-state"
    assert causes_of(verdict) == ["process-local-state"]
    assert verdict.exit_code() == ExitCode.FINDINGS
    assert verdict.checks["cross"]["recalled"] == 0


def test_process_local_evidence_names_session_turn_and_both_backends():
    # Turn 3 lands back on A: it recalls A's word and forgets the one planted on B.
    routes = [[A, B, A]] * 3
    verdict = analyse(simulate(routes, "process"))
    report = verdict.cause_report("process-local-state")
    assert report is not None and report.count == 3 + 3  # turn 2 and turn 3 of each session
    assert report.evidence[0] == ("session adr-s0-test: turn 3 on pod-a/pid 17 forgot the codeword planted on "
                                  "pod-b/pid 41 (turn 2); it recalled the 1 codeword planted on its own backend")
    assert "turn 2 on pod-b/pid 41 forgot the codeword planted on pod-a/pid 17 (turn 1)" in " ".join(report.evidence)
    assert verdict.per_session[0]["causes"] == ["process-local-state"]


def test_two_pods_both_pid_1_are_two_backends():
    routes = round_robin(6, 4, ["pod-x/1", "pod-y/1"])
    verdict = analyse(simulate(routes, "process"))
    assert verdict.cause == "process-local-state"
    assert len(verdict.backends) == 2


def test_process_local_without_identity_is_still_state_loss_with_a_note():
    # Three workers for four turns: turn 4 returns to turn 1's worker and recalls its word.
    verdict = analyse(simulate(round_robin(8, 4, FOUR[:3]), "process", hide_identity=True))
    assert verdict.verdict == "state-loss"
    assert verdict.cause == "process-local-state"  # intermittent: some turns recall, others not
    assert any("could not be tied to a backend" in note and "X-Backend-Pod" in note for note in verdict.notes)


# --- not-rehydrated --------------------------------------------------------------------------

def test_service_that_never_restores_history_is_not_rehydrated():
    verdict = analyse(simulate(round_robin(8, 4, FOUR[:3]), "none"))
    assert verdict.cause == "not-rehydrated"
    assert causes_of(verdict) == ["not-rehydrated"]
    report = verdict.cause_report("not-rehydrated")
    assert report.count == verdict.recall.expected  # every check, same and cross backend
    assert "planted on that same backend" in report.evidence[0]


def test_without_identity_a_split_that_never_revisits_a_worker_reads_as_not_rehydrated():
    # Four workers, four turns, strict round robin: no turn ever returns to a worker that holds
    # the history, so without identity nothing tells this apart from a service that keeps nothing.
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "process", hide_identity=True))
    assert verdict.cause == "not-rehydrated"
    assert any("could not be tied" in note for note in verdict.notes)


def test_one_worker_that_never_restores_is_not_rehydrated():
    verdict = analyse(simulate(round_robin(4, 4, ["77"]), "none"))
    assert verdict.cause == "not-rehydrated"


def test_nothing_recalled_without_identity_is_not_rehydrated_with_a_note():
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "none", hide_identity=True))
    assert verdict.cause == "not-rehydrated"
    assert any("could not be tied to a backend" in note for note in verdict.notes)


def test_one_worker_and_a_model_that_sometimes_slips_is_not_a_loss():
    slips = frozenset({(1, 4, 1), (5, 3, 2), (6, 4, 3)})  # 3 of 48 checks: a real LLM's noise
    verdict = analyse(simulate(round_robin(8, 4, ["77"]), "shared", slips=slips))
    assert verdict.verdict == "inconclusive"
    assert "only one backend" in verdict.reason
    assert any("without a pattern" in note for note in verdict.notes)


def test_occasional_slips_behind_a_balancer_are_inconclusive_not_loss_and_not_pass():
    # The contract's pass means every codeword recalled; scattered slips are too few to call loss.
    slips = frozenset({(1, 4, 1), (5, 3, 2), (6, 4, 3)})
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "shared", slips=slips))
    assert verdict.verdict == "inconclusive"
    assert verdict.cause is None
    assert "pass needs every codeword recalled" in verdict.reason
    assert verdict.recall.recalled == verdict.recall.expected - 3
    assert any("3 recall checks failed without a pattern" in note for note in verdict.notes)


def test_a_single_miss_on_a_tiny_run_is_inconclusive_not_a_verdict_either_way():
    verdict = analyse(simulate([[A, B]], "process"))
    assert verdict.verdict == "inconclusive"


def test_noise_threshold_needs_both_rate_and_significance():
    assert not beyond_noise(1, 1)  # one miss may be a slip
    assert beyond_noise(3, 3)
    assert not beyond_noise(5, 100)  # 5 % is within a model's noise
    assert beyond_noise(40, 40)
    assert not beyond_noise(0, 10)


# --- history-truncated -----------------------------------------------------------------------

def test_window_of_latest_two_is_history_truncated_not_not_rehydrated():
    verdict = analyse(simulate(round_robin(8, 5, FOUR), "window", window=2))
    assert verdict.cause == "history-truncated"
    assert causes_of(verdict) == ["history-truncated"]
    report = verdict.cause_report("history-truncated")
    assert report.count == 8 * 2  # turns 4 and 5 drop older words in every session
    assert "recalled the latest 2 of 3 codewords and dropped the oldest (turn 1)" in report.evidence[0]
    assert any("latest 2 codewords" in note for note in verdict.notes)


def test_window_on_a_single_backend_is_history_truncated():
    verdict = analyse(simulate(round_robin(6, 6, ["1"]), "window", window=3))
    assert verdict.cause == "history-truncated"
    assert "not-rehydrated" not in causes_of(verdict)


def test_window_of_one_is_history_truncated():
    verdict = analyse(simulate(round_robin(6, 4, FOUR), "window", window=1))
    assert verdict.cause == "history-truncated"


def test_window_larger_than_the_run_is_invisible_and_passes():
    verdict = analyse(simulate(round_robin(6, 4, FOUR), "window", window=10))
    assert verdict.verdict == "pass"


# --- lost-update -----------------------------------------------------------------------------

def _burst_routes(seed_rotation: int = 0) -> list[list[str]]:
    # 8 sessions x 4 turns: a burst of 2 spread over two backends, then 2 recall turns.
    return [[FOUR[(s + seed_rotation) % 4], FOUR[(s + 1) % 4], FOUR[(s + 2) % 4], FOUR[(s + 1) % 4]]
            for s in range(8)]


def test_lost_burst_writes_in_a_shared_store_are_lost_update():
    lost = frozenset({(0, 2), (1, 1), (3, 2), (4, 1), (6, 2)})
    verdict = analyse(simulate(_burst_routes(), "shared", burst=2, lost=lost))
    assert verdict.cause == "lost-update"
    assert causes_of(verdict) == ["lost-update"]
    report = verdict.cause_report("lost-update")
    assert report.count == 5
    assert report.evidence[0].startswith("session adr-s0-test: the codeword planted in the burst at turn 2 on "
                                         "pod-b/pid 41 (adr-s00t-0002, reply OK) is missing from every later reply")


def test_process_local_store_on_the_same_burst_shape_is_process_local_not_lost_update():
    verdict = analyse(simulate(_burst_routes(), "process", burst=2))
    assert verdict.cause == "process-local-state"
    assert "lost-update" not in causes_of(verdict)


def test_burst_replies_are_not_judged():
    # The burst's own replies cannot show what it lost; a clean shared store passes.
    verdict = analyse(simulate(_burst_routes(), "shared", burst=2))
    assert verdict.verdict == "pass"
    judged = verdict.recall.expected
    assert judged == 8 * (2 + 3)  # turn 3 checks 2 words, turn 4 checks 3


def test_a_lost_update_hidden_by_a_window_is_not_a_hole():
    # Words that come back in a later reply are not lost for good.
    lost = frozenset()
    verdict = analyse(simulate(_burst_routes(), "shared", burst=2, lost=lost, slips=frozenset({(2, 3, 1)})))
    assert "lost-update" not in causes_of(verdict)


def test_one_hole_is_too_few_to_call_lost_update():
    verdict = analyse(simulate(_burst_routes()[:3], "shared", burst=2, lost=frozenset({(1, 2)})))
    assert "lost-update" not in causes_of(verdict)
    assert verdict.verdict != "pass"


# --- cross-session-leak and precedence -------------------------------------------------------

def test_another_sessions_codeword_in_a_reply_is_cross_session_leak():
    verdict = analyse(simulate(round_robin(4, 3, FOUR), "shared", leak_into=frozenset({(2, 3)})))
    assert verdict.cause == "cross-session-leak"
    report = verdict.cause_report("cross-session-leak")
    assert report.count == 1
    assert report.evidence == [f"session adr-s2-test: turn 3 on pod-a/pid 17 replied with 1 codeword of "
                               f"adr-s0-test ({codeword(0, 1)})"]


def test_leak_outranks_process_local_state_and_both_are_listed():
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "process", leak_into=frozenset({(3, 2), (5, 4)})))
    assert verdict.cause == "cross-session-leak"
    assert causes_of(verdict) == ["cross-session-leak", "process-local-state"]


def test_loss_that_never_meets_the_same_backend_twice_is_process_local_with_a_caveat():
    # Four backends, four turns, strict round robin: every check is cross-backend, none recalled.
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "none"))
    assert verdict.cause == "process-local-state"
    assert any("not-rehydrated cannot be ruled out" in note for note in verdict.notes)


def test_per_process_store_with_a_window_is_process_local_and_truncated():
    verdict = analyse(simulate(round_robin(8, 8, FOUR[:2]), "process", window=2))
    assert causes_of(verdict) == ["process-local-state", "history-truncated"]


def test_lost_update_and_leak_listed_in_precedence_order():
    lost = frozenset({(0, 2), (1, 1), (3, 2), (4, 1), (6, 2)})
    verdict = analyse(simulate(_burst_routes(), "shared", burst=2, lost=lost, leak_into=frozenset({(5, 4)})))
    assert causes_of(verdict) == ["cross-session-leak", "lost-update"]


def test_evidence_is_capped_but_count_counts_everything():
    verdict = analyse(simulate(round_robin(30, 6, FOUR), "process"))
    report = verdict.cause_report("process-local-state")
    assert len(report.evidence) == 10
    assert report.count == verdict.checks["cross"]["expected"] > 10


# --- errors are never evidence ---------------------------------------------------------------

def test_failed_planting_turn_is_not_expected_later():
    # Turn 2 of every session fails; the shared store never saw its word; nothing counts as lost.
    errors = frozenset((s, 2) for s in range(8))
    verdict = analyse(simulate(round_robin(8, 4, FOUR), "shared", errors=errors))
    assert verdict.verdict == "pass"
    assert verdict.recall.rate == 1.0


def test_json_has_every_spec_field_and_round_trips():
    verdict = analyse(simulate(round_robin(4, 4, FOUR), "process"))
    data = json.loads(json.dumps(verdict.to_json()))
    for key in ("verdict", "cause", "causes", "url", "sessions", "turns", "replies", "errors", "backends",
                "recall", "per_session", "duration_s", "version"):
        assert key in data
    assert data["causes"][0].keys() >= {"cause", "count", "evidence"}
    assert data["backends"][0].keys() >= {"pod", "pid", "replies"}
    assert data["recall"].keys() >= {"expected", "recalled", "rate"}
    assert data["sessions"] == 4 and data["turns"] == 4


def test_analyse_does_not_change_the_transcript():
    transcript = simulate(round_robin(4, 4, FOUR), "process", leak_into=frozenset({(1, 2)}))
    before = copy.deepcopy(transcript)
    analyse(transcript)
    assert transcript == before


def test_records_from_a_replay_with_partial_identity_are_judged_on_what_is_known():
    transcript = simulate(round_robin(8, 4, FOUR), "shared")
    for record in transcript.records[::5]:
        record.backend = Backend()
    verdict = analyse(transcript)
    assert verdict.verdict == "pass"
    assert verdict.checks["unknown"]["expected"] > 0
    assert any("no backend identity" in note for note in verdict.notes)


def test_record_without_planting_record_is_classed_unknown():
    transcript = Transcript(url="u", sessions=1, turns=2, identity_source="header X-Pid", records=[
        TurnRecord(session="s", turn=2, planted="w2", expected=["w1"], recalled=["w1"],
                   backend=Backend(pid="1"), status=200)])
    verdict = analyse(transcript)
    assert verdict.checks["unknown"] == {"expected": 1, "recalled": 1}


def test_not_rehydrated_with_pod_only_identity_warns_that_workers_may_hide_in_a_pod():
    # Two workers inside one pod with per-process dicts: only the pod is exposed.
    transcript = simulate(round_robin(8, 4, ["pod-a/1", "pod-a/2"]), "process")
    for record in transcript.records:
        record.backend = Backend(pod=record.backend.pod)
    verdict = analyse(transcript)
    assert verdict.cause == "not-rehydrated"
    assert any("told apart by pod only" in note for note in verdict.notes)


def test_not_rehydrated_with_pid_only_identity_warns_about_pid_1_pods():
    transcript = simulate(round_robin(8, 4, ["pod-a/1", "pod-b/1"]), "process")
    for record in transcript.records:
        record.backend = Backend(pid=record.backend.pid)
    verdict = analyse(transcript)
    assert verdict.cause == "not-rehydrated"
    assert any("PID 1" in note for note in verdict.notes)


def test_lost_update_without_identity_is_still_found_with_a_note():
    lost = frozenset({(0, 2), (1, 1), (3, 2), (4, 1), (6, 2)})
    verdict = analyse(simulate(_burst_routes(), "shared", burst=2, lost=lost, hide_identity=True))
    assert verdict.cause == "lost-update"
    assert any("could not be tied to a backend" in note for note in verdict.notes)


def test_burst_words_a_window_drops_are_a_window_not_lost_updates():
    # Six turns, a burst of four, a window of the latest two: the oldest burst words vanish for
    # good, but the same K on every reply says window, not lost update.
    routes = round_robin(8, 6, FOUR)
    verdict = analyse(simulate(routes, "window", window=2, burst=4))
    assert verdict.cause == "history-truncated"
    assert "lost-update" not in causes_of(verdict)


def test_one_slip_on_the_same_backend_does_not_hide_a_split():
    # Every change of backend loses memory; the only same-backend check happens to be a slip.
    routes = [[A, B, C, A]] + [[A, B, C, D]] * 5
    verdict = analyse(simulate(routes, "process", slips=frozenset({(0, 4, 1)})))
    assert verdict.checks["same"] == {"expected": 1, "recalled": 0}
    assert verdict.cause == "process-local-state"


def test_burst_words_lost_on_one_pod_with_several_workers_are_lost_update_not_a_split():
    # One pod, three worker pids (uvicorn --workers 3 on one host): the burst's last writer
    # (turn 1, on pid 2) overwrote the words turns 2 and 3 saved from pid 1, so the later replies
    # on pid 2 recall only the word planted on their own pid. Other sessions recall words across
    # pids, which proves the pod's workers share one store: this is a hole, not a split.
    one_pod = ["vm/1", "vm/2", "vm/3"]
    overwritten = [["vm/2", "vm/1", "vm/1", "vm/2", "vm/2"] for _ in range(4)]
    spread = [[one_pod[(s + t) % 3] for t in range(5)] for s in range(4)]
    lost = frozenset({(s, turn) for s in range(4) for turn in (2, 3)})
    verdict = analyse(simulate(overwritten + spread, "shared", burst=3, lost=lost))
    assert verdict.cause == "lost-update"
    assert causes_of(verdict) == ["lost-update"]
    assert verdict.cause_report("lost-update").count == 8


def test_process_local_store_on_one_pod_with_several_workers_stays_process_local():
    one_pod = ["vm/1", "vm/2", "vm/3"]
    routes = [[one_pod[(s + t) % 3] for t in range(5)] for s in range(8)]
    verdict = analyse(simulate(routes, "process", burst=3))
    assert verdict.cause == "process-local-state"
    assert "lost-update" not in causes_of(verdict)
