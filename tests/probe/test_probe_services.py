"""The probe against real services whose storage behaviour differs (issue 5, "Done when").

Each target is `tests/probe/targets/chat_stores.py` under real uvicorn (several workers, or one)
with a real redis-server; its "LLM" lists every codeword in the history its storage kept, so the
verdict depends only on how the storage behaves. With `uvicorn --workers N` the kernel hands each
new connection to one of the workers, which is why the probe opens one per request.
"""

import pytest

from autogen_doctor.probe.command import run_probe
from autogen_doctor.probe.options import ProbeOptions
from support.services import nginx_round_robin, uvicorn_service

pytestmark = pytest.mark.services

APP = "tests.probe.targets.chat_stores:app"


@pytest.fixture(scope="module")
def four_workers(redis_url):
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": "four", "WINDOW": "3", "RACE_PAUSE_S": "0.05"}
    with uvicorn_service(APP, workers=4, env=env) as service:
        yield service.url


def probe(url, seed, **settings):
    options = ProbeOptions(url=url, seed=seed, **{"sessions": 8, "turns": 4, "timeout": 5, **settings})
    return run_probe(options)


def pids(run):
    return {backend.pid for backend in run.verdict.backends}


def test_in_process_dict_under_four_workers_is_process_local_state(four_workers):
    run = probe(four_workers + "/memory", seed=101)
    verdict = run.verdict
    assert (verdict.verdict, verdict.cause) == ("state-loss", "process-local-state")
    assert verdict.exit_code() == 1
    assert len(pids(run)) >= 2 and run.transcript.identity_source == "header X-Backend-Pid"
    evidence = " ".join(verdict.cause_report("process-local-state").evidence)
    assert "adr-s" in evidence and "pid" in evidence


def test_in_process_dict_under_one_worker_is_inconclusive(redis_url):
    with uvicorn_service(APP, workers=1, env={"REDIS_URL": redis_url, "KEY_PREFIX": "one"}) as service:
        run = probe(service.url + "/memory", seed=102)
    assert run.verdict.verdict == "inconclusive" and run.verdict.cause is None
    assert run.verdict.exit_code() == 3
    assert run.verdict.recall.rate == 1.0 and len(pids(run)) == 1


def test_history_never_restored_is_not_rehydrated(four_workers):
    run = probe(four_workers + "/norestore", seed=103)
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "not-rehydrated")


def test_redis_list_passes_with_a_change_of_backend(four_workers):
    run = probe(four_workers + "/redis", seed=104)
    assert run.verdict.verdict == "pass" and run.verdict.exit_code() == 0
    assert run.verdict.recall.rate == 1.0 and len(pids(run)) >= 2
    assert run.verdict.errors == 0 and not run.verdict.causes


def test_redis_window_is_history_truncated(four_workers):
    run = probe(four_workers + "/window", seed=105, turns=6)
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "history-truncated")
    # WINDOW=3 messages: the current one and the latest 2 earlier codewords are kept.
    for record in run.transcript.records:
        assert record.recalled == record.expected[-2:]


def test_racy_read_modify_write_under_concurrent_turns_is_lost_update(four_workers):
    run = probe(four_workers + "/racy", seed=106, turns=5, concurrent_turns=True)
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "lost-update")
    assert any(record.burst for record in run.transcript.records)
    assert all(not record.expected for record in run.transcript.records if record.burst)


def test_racy_store_without_concurrent_turns_passes(four_workers):
    # The same code is right when turns never overlap: the lost update needs the burst.
    run = probe(four_workers + "/racy", seed=107)
    assert run.verdict.verdict == "pass"


def test_one_history_for_everybody_is_cross_session_leak(four_workers):
    run = probe(four_workers + "/shared", seed=108)
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "cross-session-leak")
    assert sum(len(record.foreign) for record in run.transcript.records) > 0


def test_one_request_in_four_failing_with_500_still_passes_and_counts_retries(four_workers):
    run = probe(four_workers + "/flaky", seed=109)
    assert run.verdict.verdict == "pass"
    retried = sum(record.attempts - 1 for record in run.transcript.records)
    assert retried >= 4 and run.verdict.retries == retried
    assert any(record.attempts > 1 for record in run.transcript.records)


def test_failed_turns_without_retries_are_counted_and_never_taken_for_loss(four_workers):
    run = probe(four_workers + "/flaky", seed=114, retries=0)
    failed = [record for record in run.transcript.records if not record.ok]
    assert len(failed) == 8 and all(record.status == 500 for record in failed)  # 1 in 4 of 32
    assert run.verdict.errors == 8 and run.verdict.verdict == "pass"
    # A failed turn plants nothing: no later turn expects its codeword.
    expected = {word for record in run.transcript.records for word in record.expected}
    assert not expected & {record.planted for record in failed}


def test_identity_in_the_json_body(four_workers):
    run = probe(four_workers + "/memory?identity=body", seed=110, pid_path="served_by.pid")
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "process-local-state")
    assert run.transcript.identity_source == "json served_by.pid"
    assert not any("x-backend-pid" in record.response_headers for record in run.transcript.records)
    assert len(pids(run)) >= 2


def test_no_identity_still_gets_a_verdict_on_loss(four_workers):
    # Without identity every check is "unknown"; more turns keep the loss clear of the noise bar.
    run = probe(four_workers + "/memory?identity=none", seed=111, sessions=12, turns=5)
    assert run.verdict.verdict == "state-loss", run.verdict.reason
    assert all(not record.backend.known for record in run.transcript.records)
    assert run.transcript.identity_source is None
    assert any("could not be tied to a backend" in note and "--pid-header" in note for note in run.verdict.notes)


@pytest.fixture(scope="module")
def two_pods(redis_url):
    # Two single-worker "pods" that both report PID 1, as containers do: $FAKE_PID fakes the pid
    # (we cannot run two processes as PID 1 here); $POD_NAME is what tells them apart.
    base = {"REDIS_URL": redis_url, "KEY_PREFIX": "pods", "FAKE_PID": "1"}
    with uvicorn_service(APP, env={**base, "POD_NAME": "pod-a"}) as pod_a, \
            uvicorn_service(APP, env={**base, "POD_NAME": "pod-b"}) as pod_b, \
            nginx_round_robin([pod_a.port, pod_b.port]) as balancer:
        yield balancer


def test_two_pods_both_pid_1_behind_nginx_are_told_apart(two_pods):
    run = probe(two_pods + "/memory", seed=112)
    assert (run.verdict.verdict, run.verdict.cause) == ("state-loss", "process-local-state")
    backends = {(backend.pod, backend.pid) for backend in run.verdict.backends}
    assert backends == {("pod-a", "1"), ("pod-b", "1")}
    evidence = " ".join(run.verdict.cause_report("process-local-state").evidence)
    assert "pod-a" in evidence and "pod-b" in evidence


def test_redis_behind_nginx_round_robin_passes(two_pods):
    run = probe(two_pods + "/redis", seed=113)
    assert run.verdict.verdict == "pass"
    assert {backend.pod for backend in run.verdict.backends} == {"pod-a", "pod-b"}
