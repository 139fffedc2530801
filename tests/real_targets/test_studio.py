"""AutoGen Studio 0.4.2.2 (`autogenstudio ui`, from PyPI, unmodified) probed through the `studio`
preset exactly as a user would, three runs in a row per set-up.

The model is a fake (no LLM can run in tests): the project's offline `CodewordChatCompletionClient`,
which lists the codewords it was given, in a Studio team created through Studio's own API
(studio_service.py). Expected verdicts and why (docs/targets/autogen-studio.md):
- a new connection per turn (the default): every turn is a new Studio run, and a run rebuilds the
  team from its config with only the new task, so nothing earlier is ever recalled, on one worker
  or several: `not-rehydrated`, exit 1;
- one connection held per session: one run, whose team (with a UserProxyAgent) keeps the
  conversation; the connection never changes worker, so per-process state cannot show:
  `inconclusive`, exit 3;
- two pods (each with its own app dir, so its own SQLite) behind round-robin nginx: a session or
  run made by a set-up call on one pod is unknown to the other, so turns fail and each such error
  names both pods; the turns that get through recall nothing: never a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from real_targets.agentchat057_env import agentchat057_python
from real_targets.studio_service import autogen_studio, autogen_studio_pods, create_team, studio_team
from support.services import REPO_ROOT, nginx_binary, nginx_round_robin

pytestmark = pytest.mark.services

RUNS = 3  # three runs in a row through the preset, each with the expected verdict
SESSIONS, TURNS = 4, 3


@pytest.fixture(scope="module")
def studio_python():
    return agentchat057_python()


@pytest.fixture(scope="module")
def team(studio_python):
    return studio_team(studio_python)


@pytest.fixture(scope="module")
def app_folder(tmp_path_factory):
    """One Studio app dir and HOME, shared by the 1-worker and the 2-worker service."""
    return {"path": tmp_path_factory.mktemp("studio"), "team_created": False}


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def studio(request, studio_python, team, app_folder):
    """`autogenstudio ui --workers N` on the shared app dir, the offline team created once.

    A fresh app dir is first started with one worker, so one process creates the database (with
    several, every worker runs the schema set-up at once; clean in every try by hand, but not
    what a test should depend on).
    """
    workers = request.param
    folder = app_folder["path"]
    if not app_folder["team_created"]:
        with autogen_studio(studio_python, folder, workers=1) as first:
            create_team(first, team)
            app_folder["team_created"] = True
            if workers == 1:
                yield first
                return
    with autogen_studio(studio_python, folder, workers=workers) as pod:
        yield pod


def probe(url: str, *flags: str) -> tuple[int, dict]:
    """`autogen-doctor probe URL --preset studio ...` from the test interpreter, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", url, "--preset", "studio",
                           "--sessions", str(SESSIONS), "--turns", str(TURNS), "--format", "json", *flags],
                          capture_output=True, text=True, timeout=240, cwd=str(REPO_ROOT))
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def recorded_turns(path) -> list[dict]:
    return [row for row in map(json.loads, path.read_text().splitlines()) if "turn" in row]


def test_studio_forgets_across_runs(studio, tmp_path):
    for run in range(RUNS):
        recording = tmp_path / f"run-{run}.jsonl"
        code, report = probe(studio.ws_url, "--record", str(recording))
        assert (code, report["verdict"], report["cause"]) == (1, "state-loss", "not-rehydrated"), report["reason"]
        assert "tied to the WebSocket connection" in report["reason"]
        assert report["errors"] == 0 and report["recall"]["recalled"] == 0, report["reason"]
        # Studio ran the team: every reply is the model's, and it saw this turn's codeword only.
        for row in recorded_turns(recording):
            assert row["reply_text"] == f"The codewords you have given me so far: {row['planted']}.", row


def test_studio_remembers_within_a_held_run(studio):
    for _ in range(RUNS):
        code, report = probe(studio.ws_url, "--ws-connection", "session")
        assert (code, report["verdict"]) == (3, "inconclusive"), report["reason"]
        assert report["errors"] == 0 and report["recall"]["rate"] == 1.0, report["reason"]
        assert "stays on the backend" in report["reason"]


def test_studio_two_pods_with_their_own_databases(studio_python, team, tmp_path_factory):
    """Each pod knows only the sessions and runs it created, under ids the other pod also hands
    out. The probe's set-up calls and its connections are balanced separately, so in every run some
    turns fail (a 404 on POST /api/runs/, a refused handshake), each naming both pods. The turns
    that get through vary from run to run (see docs/targets/autogen-studio.md: a socket can even
    take over another session's run with the same id on the other pod), so only what holds in
    every run is asserted: the split is named, and the verdict is never a pass."""
    if nginx_binary() is None:
        pytest.fail("nginx is not installed (apt-get install nginx)")
    folders = [tmp_path_factory.mktemp("pod-a"), tmp_path_factory.mktemp("pod-b")]
    with autogen_studio_pods(studio_python, folders) as (pod_a, pod_b):
        for pod in (pod_a, pod_b):
            create_team(pod, team)  # the same team on both, as a deployment would provision it
        with nginx_round_robin([pod_a.port, pod_b.port], websocket=True, served_by=True) as balanced:
            url = balanced.replace("http://", "ws://")
            for run in range(RUNS):
                recording = tmp_path_factory.mktemp("pods") / "turns.jsonl"
                done = subprocess.run(
                    [sys.executable, "-m", "autogen_doctor", "probe", url, "--preset", "studio", "--sessions",
                     str(SESSIONS), "--turns", str(TURNS), "--timeout", "5", "--format", "json",
                     "--record", str(recording)],
                    capture_output=True, text=True, timeout=240, cwd=str(REPO_ROOT))
                failed = [row for row in recorded_turns(recording) if row.get("error")]
                split = [row for row in failed if "set-up state is not shared between backends" in row["error"]]
                assert split, "no turn failed on the split: the pods shared their set-up state after all"
                for row in split:
                    for pod in (pod_a, pod_b):
                        assert f"127.0.0.1:{pod.port}" in row["error"], row["error"]
                # Other failures come from a socket taking over another session's run with the same
                # id on the other pod (a turn that times out, or gets the run's `completion` and no
                # reply); which ones happen varies from run to run, so they are not asserted.
                if done.returncode == 2:  # every turn failed: a one-line error, no report
                    assert "not shared between backends" in done.stderr, done.stderr
                    continue
                report = json.loads(done.stdout)
                assert done.returncode in (1, 3) and report["verdict"] != "pass", report["reason"]
                assert report["errors"] == len(failed)
