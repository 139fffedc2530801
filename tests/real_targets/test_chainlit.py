"""Chainlit as a real target: `chainlit run --headless` pods, probed over Socket.IO with `--preset chainlit`.

Two apps, the same set-ups and expectations (shared WEBSOCKET.md 9 and 9b):
- our own small app (apps/chainlit_app.py), which keeps an AgentChat agent in `cl.user_session`
  as Chainlit apps do. It needs only PyPI, so CI runs it;
- the official `agentchat_chainlit/app_agent.py`, run unmodified (only its model_config.yaml
  replaced), from a microsoft/autogen checkout; skipped without one (CI has no GitHub).

The model is a fake in both: the offline codeword client stands in for an LLM, since none can
run here. Everything else is real: chainlit 2.12.0 from PyPI in its own venv, nginx, sockets.

Set-ups, each probed three times in a row:
- two pods behind nginx round robin, a new connection per turn: Chainlit restores a session
  (same sessionId) only in the process that holds it, so recall holds on the same pod and fails
  on the other -> `process-local-state`;
- the same, one connection held per session: a WebSocket never changes pod -> `inconclusive`;
- one pod behind nginx, a new connection per turn: every reconnect reaches the one pod and the
  session is restored, so nothing is lost, but with one backend a pass proves nothing about
  scaling out -> `inconclusive`.
And the fix: our app's twin (apps/chainlit_fixed_app.py) keeps the agent's state in a real Redis
with the project's fix kit, keyed by the Chainlit session id: two pods, turn -> `pass`.
"""

from __future__ import annotations

import shutil

import pytest

from support.services import nginx_round_robin

from .chainlit_support import APPS, chainlit_pods, describe, run_probe
from .pins import CHAINLIT_REQUIREMENTS
from .checkout import copy_sample
from .venvs import target_python

RUNS = 3  # the issue asks for three runs in a row per set-up
SIZE = ["--sessions", "6", "--turns", "4", "--timeout", "15"]
SAMPLE_MODEL_CONFIG = "provider: chainlit_codeword_model.ToolReadyCodewordClient\nconfig: {}\n"


@pytest.fixture(scope="module", params=["own-app", "official-sample"])
def pods(request, tmp_path_factory):
    """Two running pods of the app under test (started once per module and app)."""
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "official-sample":
        folder = copy_sample("agentchat_chainlit", base)  # skips without a checkout
        app_file = "app_agent.py"
        # The only change to the sample: its model configuration names the offline client.
        (folder / "model_config.yaml").write_text(SAMPLE_MODEL_CONFIG)
    else:
        folder = base / "own_app"
        folder.mkdir()
        app_file = "chainlit_app.py"
        shutil.copy(APPS / app_file, folder / app_file)
    python = target_python("chainlit", CHAINLIT_REQUIREMENTS)
    with chainlit_pods(python, folder, app_file, count=2) as running:
        yield running


def _socket_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws/socket.io/"


def _show(setup: str, index: int, run) -> None:
    """One line per run (seen with `pytest -s`): the evidence the report and docs quote."""
    report = run.report
    print(f"\n{setup} run {index + 1}: {report['verdict']} {report['cause'] or ''} exit={run.exit_code} "
          f"recall={report['recall'].get('rate')} checks={report.get('checks')}\n  reason: {report['reason']}")


def test_reconnect_per_turn_across_two_pods_is_process_local_state(pods):
    with nginx_round_robin([pod.port for pod in pods], websocket=True, served_by=True) as balancer:
        for index in range(RUNS):
            run = run_probe(_socket_url(balancer), "--preset", "chainlit", *SIZE)
            _show("two pods, turn", index, run)
            report = run.report
            assert (report["verdict"], report["cause"]) == ("state-loss", "process-local-state"), describe(run, pods)
            assert run.exit_code == 1
            assert report["errors"] == 0, describe(run, pods)
            assert len(report["backends"]) == 2 and report["identity_source"].startswith("header")
            # The evidence: recalled on the pod that holds the session, lost on the other.
            same, cross = report["checks"]["same"], report["checks"]["cross"]
            assert same["expected"] > 0 and same["recalled"] == same["expected"], describe(run, pods)
            assert cross["expected"] > 0 and cross["recalled"] == 0, describe(run, pods)


def test_held_connection_is_inconclusive(pods):
    with nginx_round_robin([pod.port for pod in pods], websocket=True, served_by=True) as balancer:
        for index in range(RUNS):
            run = run_probe(_socket_url(balancer), "--preset", "chainlit", "--ws-connection", "session", *SIZE)
            _show("two pods, session", index, run)
            report = run.report
            assert report["verdict"] == "inconclusive", describe(run, pods)
            assert run.exit_code == 3
            assert report["errors"] == 0 and report["recall"]["rate"] == 1.0, describe(run, pods)
            assert "reconnect" in report["reason"] or "--ws-connection" in report["reason"], describe(run, pods)


def test_one_pod_reconnect_per_turn_is_inconclusive(pods):
    with nginx_round_robin([pods[0].port], websocket=True, served_by=True) as balancer:
        for index in range(RUNS):
            run = run_probe(_socket_url(balancer), "--preset", "chainlit", *SIZE)
            _show("one pod, turn", index, run)
            report = run.report
            assert report["verdict"] == "inconclusive", describe(run, pods)
            assert run.exit_code == 3
            # Chainlit restores the session on the process that holds it: nothing is lost.
            assert report["errors"] == 0 and report["recall"]["rate"] == 1.0, describe(run, pods)
            assert len(report["backends"]) == 1


def test_fixed_app_with_state_in_redis_passes_across_two_pods(tmp_path_factory, redis_url):
    folder = tmp_path_factory.mktemp("fixed") / "fixed_app"
    folder.mkdir()
    shutil.copy(APPS / "chainlit_fixed_app.py", folder / "chainlit_fixed_app.py")
    python = target_python("chainlit", CHAINLIT_REQUIREMENTS)
    with chainlit_pods(python, folder, "chainlit_fixed_app.py", count=2, env={"REDIS_URL": redis_url}) as pods:
        with nginx_round_robin([pod.port for pod in pods], websocket=True, served_by=True) as balancer:
            for index in range(RUNS):
                run = run_probe(_socket_url(balancer), "--preset", "chainlit", *SIZE)
                _show("fixed app, two pods, turn", index, run)
                report = run.report
                assert report["verdict"] == "pass", describe(run, pods)
                assert run.exit_code == 0
                assert report["checks"]["cross"]["expected"] > 0, describe(run, pods)
