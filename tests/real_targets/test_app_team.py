"""The official microsoft/autogen `agentchat_fastapi/app_team.py`, unmodified, probed through the
`agentchat-team` preset exactly as a user would, three runs in a row per set-up.

Runs only with a microsoft/autogen checkout ($AUTOGEN_DOCTOR_AUTOGEN_CHECKOUT, see checkout.py):
the sample is not on PyPI and is never copied into this project. Only its model_config.yaml is
written, naming the project's offline `CodewordChatCompletionClient` (a fake: no LLM can run in
tests). Expected verdicts and why (docs/targets/agentchat-app-team.md):
- autogen-agentchat 0.5.7, a new connection per turn (the default), under `--workers 4` or two
  pods behind nginx: the team lives in the handler of one connection and its state is saved only
  when a run ends, which never happens, so a new connection starts empty even on the same
  worker: `not-rehydrated`, exit 1;
- one connection held per session: the team keeps the conversation, and the connection never
  changes worker, so per-process state cannot show: `inconclusive`, exit 3;
- autogen-agentchat 0.7.5: every turn fails with the server's own error frame ("Object of type
  datetime is not JSON serializable"): exit 2, reported as failed turns, never as memory loss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from real_targets.agentchat057_app_team import agentchat075_python, app_team_pods, write_model_config
from real_targets.agentchat057_env import agentchat057_python
from real_targets.checkout import copy_sample
from support.services import REPO_ROOT, nginx_binary, nginx_round_robin

pytestmark = pytest.mark.services

RUNS = 3  # three runs in a row through the preset, each with the expected verdict
SESSIONS, TURNS = 4, 3
SERVED_SESSIONS, SERVED_TURNS = 8, 4
DATETIME_ERROR = "Object of type datetime is not JSON serializable"


def sample_copy(tmp_path_factory, name: str):
    """A fresh copy of the sample (its own working directory) with only model_config.yaml written."""
    sample = copy_sample("agentchat_fastapi", tmp_path_factory.mktemp(name))
    write_model_config(sample)
    return sample


@pytest.fixture(scope="module", params=["4-workers", "2-pods"])
def app_team_url(request, tmp_path_factory):
    """ws://.../ws/chat of app_team.py on autogen 0.5.7: one pod with 4 workers, or two 1-worker
    pods behind round-robin nginx that names the pod in X-Served-By (also on the 101)."""
    # The sample first: without a checkout the test is skipped before any venv is built.
    if request.param == "4-workers":
        sample = sample_copy(tmp_path_factory, "app-team")
        with app_team_pods(agentchat057_python(), [sample], workers=4) as (pod,):
            yield pod.ws_url
        return
    samples = [sample_copy(tmp_path_factory, "pod-a"), sample_copy(tmp_path_factory, "pod-b")]
    if nginx_binary() is None:
        pytest.fail("nginx is not installed (apt-get install nginx)")
    with app_team_pods(agentchat057_python(), samples) as pods, \
            nginx_round_robin([pod.port for pod in pods], websocket=True, served_by=True) as balanced:
        yield balanced.replace("http://", "ws://") + "/ws/chat"


def probe(url: str, *flags: str) -> subprocess.CompletedProcess:
    """`autogen-doctor probe URL --preset agentchat-team ...` from the test interpreter, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", url, "--preset", "agentchat-team",
                           "--sessions", str(SESSIONS), "--turns", str(TURNS), "--format", "json", *flags],
                          capture_output=True, text=True, timeout=240, cwd=str(REPO_ROOT))


def recorded_turns(path) -> list[dict]:
    return [row for row in map(json.loads, path.read_text().splitlines()) if "turn" in row]


def test_app_team_forgets_on_every_reconnect(app_team_url, tmp_path):
    for run in range(RUNS):
        recording = tmp_path / f"run-{run}.jsonl"
        done = probe(app_team_url, "--record", str(recording))
        report = json.loads(done.stdout)
        assert (done.returncode, report["verdict"], report["cause"]) == (1, "state-loss", "not-rehydrated"), \
            report["reason"]
        assert "tied to the WebSocket connection" in report["reason"]
        assert report["errors"] == 0 and report["recall"]["recalled"] == 0, report["reason"]
        # The team answered (assistant, then yoda), and saw this turn's codeword only.
        for row in recorded_turns(recording):
            assert row["planted"] in row["reply_text"], row
        if report["backends"]:
            # Behind nginx the pods are named: codewords are lost on the very pod that heard them.
            same = report["checks"]["same"]
            assert same["expected"] > 0 and same["recalled"] == 0, report["checks"]


def test_app_team_remembers_on_a_held_connection(app_team_url):
    for _ in range(RUNS):
        done = probe(app_team_url, "--ws-connection", "session")
        report = json.loads(done.stdout)
        assert (done.returncode, report["verdict"]) == (3, "inconclusive"), report["reason"]
        assert report["errors"] == 0 and report["recall"]["rate"] == 1.0, report["reason"]
        assert "stays on the backend" in report["reason"]


def test_app_team_on_agentchat_07_fails_every_turn_with_the_servers_error(tmp_path_factory, tmp_path):
    sample = sample_copy(tmp_path_factory, "app-team-07")
    with app_team_pods(agentchat075_python(), [sample]) as (pod,):
        for run in range(RUNS):
            recording = tmp_path / f"run-{run}.jsonl"
            done = probe(pod.ws_url, "--record", str(recording))
            # Failed turns, with the server's text; never a memory verdict.
            assert done.returncode == 2 and not done.stdout, done.stdout
            assert done.stderr.startswith("autogen-doctor: error: every turn to") and DATETIME_ERROR in done.stderr
            rows = recorded_turns(recording)
            assert len(rows) == SESSIONS * TURNS
            assert all(DATETIME_ERROR in row["error"] for row in rows), [row["error"] for row in rows]


def test_app_team_served_by_the_probe_shows_the_worker_that_forgot(tmp_path_factory):
    """`probe --serve` starts the unmodified sample itself (1, then 4 uvicorn workers) and learns
    each connection's worker from the OS, so the loss is pinned on the process that heard the
    codeword, with no identity header in the sample. More sessions and turns than elsewhere: with
    4 workers a reconnect reaches the worker that heard a codeword only now and then, and too few
    such checks leave not-rehydrated indistinguishable from process-local state."""
    sample = sample_copy(tmp_path_factory, "app-team-served")
    uvicorn = agentchat057_python().parent / "uvicorn"
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT / "examples"), os.environ.get("PYTHONPATH")]))
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-m", "autogen_doctor", "probe", "/ws/chat", "--preset", "agentchat-team",
             "--serve", f"{uvicorn} app_team:app", "--workers", "1,4", "--sessions", str(SERVED_SESSIONS),
             "--turns", str(SERVED_TURNS), "--format", "json"],
            capture_output=True, text=True, timeout=280, cwd=str(sample), env={**os.environ, "PYTHONPATH": python_path})
        served = json.loads(done.stdout)
        assert done.returncode == 1, done.stderr
        one, four = (run["result"] for run in served["runs"])
        for report in (one, four):
            assert (report["verdict"], report["cause"], report["identity"]) == ("state-loss", "not-rehydrated", "os")
        # One worker: every codeword was lost on the very process that received it.
        assert len(one["backends"]) == 1
        every_earlier_codeword = SERVED_SESSIONS * SERVED_TURNS * (SERVED_TURNS - 1) // 2
        assert one["checks"]["same"] == {"expected": every_earlier_codeword, "recalled": 0}
        assert len(four["backends"]) >= 2 and four["recall"]["recalled"] == 0
