"""`autogen-doctor probe ws://...` as a user runs it: exit codes, one-line errors, record/replay."""

import json
import subprocess
import sys

from ws_support import scripted_server
from ws_scripts import agentchat_team


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(done, fragment):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogen-doctor: error: ") and fragment in lines[0], lines


def test_preset_run_exit_code_json_and_replay(tmp_path):
    recording = tmp_path / "ws.jsonl"
    with scripted_server(agentchat_team) as url:
        done = cli(url + "/ws/chat", "--preset", "agentchat-team", "--sessions", "3", "--turns", "3",
                   "--format", "json", "--record", recording)
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["cause"] == "not-rehydrated" and "tied to the WebSocket connection" in verdict["reason"]
    header = json.loads(recording.read_text().splitlines()[0])
    assert header["transport"] == "ws" and header["ws_connection"] == "turn"
    replayed = cli("--replay", recording, "--format", "json")
    assert replayed.returncode == 1
    assert json.loads(replayed.stdout)["reason"] == verdict["reason"]


def test_held_connection_exits_inconclusive():
    with scripted_server(agentchat_team) as url:
        done = cli(url + "/ws/chat", "--preset", "agentchat-team", "--ws-connection", "session", "--sessions", "2")
    assert done.returncode == 3, done.stderr
    assert "stays on the backend that accepted it" in done.stdout


def test_bad_rule_is_one_line():
    assert_one_line_error(cli("ws://127.0.0.1:9/ws", "--ws-until", "a b"), "--ws-until")


def test_ws_flags_need_a_ws_url():
    assert_one_line_error(cli("http://127.0.0.1:9/chat", "--preset", "agentchat-team"), "need a ws:// or wss:// URL")


def test_unreachable_ws_url_is_one_line():
    from support.services import free_port

    assert_one_line_error(cli(f"ws://127.0.0.1:{free_port()}/ws/chat", "--preset", "agentchat-team",
                              "--retries", "0"), "connection refused")


def test_serve_with_websocket_flags_checks_them_before_starting_anything():
    # The module does not exist: had the server been started, the error would be its log.
    assert_one_line_error(cli("/ws/chat", "--serve", "uvicorn no_such_module:app", "--preset", "agentchat-team",
                              "--ws-connection", "banana"), "--ws-connection must be")
    assert_one_line_error(cli("/ws/chat", "--serve", "uvicorn no_such_module:app", "--preset", "agentchat-team",
                              "--reuse-connections"), "--reuse-connections is for HTTP")
    assert_one_line_error(cli("ws://127.0.0.1:9/ws/chat", "--serve", "uvicorn no_such_module:app"),
                          "give the endpoint as a path")
