"""End to end: each example under uvicorn with several workers, probed with the real CLI.

The broken examples must be diagnosed with their cause; the fixed ones must pass, also when a
session's turns arrive at once (--concurrent-turns), and when the fixed service runs as two
single-worker "pods" behind a real nginx balancing round-robin.
"""

import contextlib

import pytest
from example_table import EXAMPLES, Example, classic_api_installed, run_cli
from support.services import nginx_round_robin, uvicorn_service

pytestmark = pytest.mark.services

WORKERS = 3
PROBE = ("--sessions", "6", "--turns", "4", "--quiet")
CONCURRENT = ("--concurrent-turns", "--turns", "5")
EXIT_FOR_VERDICT = {"pass": 0, "state-loss": 1}


def skip_without_classic_api(example: Example) -> None:
    if example.classic and not classic_api_installed():
        pytest.skip("the classic autogen API (pyautogen 0.9) is not installed: pip install -e '.[examples]'")


def probe(url: str, *extra: str, seed: int) -> tuple[int, dict]:
    # One seed per test: the examples share one Redis, and a seed replays the same session ids.
    code, report, _ = run_cli("probe", url + "/chat", *PROBE, "--seed", str(seed), *extra)
    return code, report


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_probe_gives_each_example_its_expected_verdict_under_several_workers(example: Example, request):
    skip_without_classic_api(example)
    # Each model call takes a while, as a real LLM's does, so that overlapping turns really overlap.
    env = {"CODEWORD_LATENCY_S": "0.1"}
    if example.needs_redis:
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    with uvicorn_service("app:api", workers=WORKERS, app_dir=example.path, env=env) as service:
        # A fixed service must pass even when a session's turns overlap (the burst, then recall
        # turns spread over the workers); a broken one is probed the way its loss shows.
        overlap = example.concurrent_turns or example.verdict == "pass"
        code, report = probe(service.url, *(CONCURRENT if overlap else ()),
                             seed=100 + [e.name for e in EXAMPLES].index(example.name))

    assert (report["verdict"], report["cause"]) == (example.verdict, example.cause), report["causes"]
    assert code == EXIT_FOR_VERDICT[example.verdict]
    assert report["errors"] == 0
    assert len(report["backends"]) >= 2  # the turns really were spread over several workers


def test_fixed_example_passes_as_two_single_worker_pods_behind_nginx_round_robin(redis_url):
    app_dir = next(example.path for example in EXAMPLES if example.name == "fixed_redis")
    with contextlib.ExitStack() as stack:
        pods = [
            stack.enter_context(uvicorn_service("app:api", workers=1, app_dir=app_dir,
                                                env={"REDIS_URL": redis_url, "POD_NAME": pod}))
            for pod in ("pod-a", "pod-b")
        ]
        balancer = stack.enter_context(nginx_round_robin([pod.port for pod in pods]))
        code, report = probe(balancer, seed=99)

    assert (report["verdict"], report["cause"]) == ("pass", None), report["causes"]
    assert code == 0 and report["errors"] == 0
    assert {backend["pod"] for backend in report["backends"]} == {"pod-a", "pod-b"}
