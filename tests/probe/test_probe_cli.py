"""`autogen-doctor probe` as a user runs it: a subprocess against real services.

Exit codes, the JSON contract, --record/--replay, redaction in recordings, --output files,
and bad input ending as one line on stderr with exit 2 (never a traceback, never a hang).
"""

import json
import subprocess
import sys
import textwrap
import time

import pytest

from support.services import free_port, uvicorn_service

pytestmark = pytest.mark.services

APP = "tests.probe.targets.chat_stores:app"
SPEC_FIELDS = {"verdict", "cause", "causes", "url", "sessions", "turns", "replies", "errors", "backends",
               "recall", "per_session", "duration_s", "version"}
# A service whose history lives in a module-level dict: the scan flags it (AD1).
SERVICE_SOURCE = textwrap.dedent('''
    from fastapi import FastAPI

    app = FastAPI()
    HISTORY: dict[str, list[str]] = {}


    @app.post("/chat")
    async def chat(payload: dict) -> dict:
        history = HISTORY.setdefault(payload["session_id"], [])
        history.append(payload["message"])
        return {"reply": " ".join(history)}
''')


@pytest.fixture(scope="module")
def four_workers(redis_url):
    with uvicorn_service(APP, workers=4, env={"REDIS_URL": redis_url, "KEY_PREFIX": "cli"}) as service:
        yield service.url


@pytest.fixture(scope="module")
def misbehaving():
    with uvicorn_service("tests.probe.targets.misbehaving:app") as service:
        yield service.url


def cli(*args, timeout=60):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    done.took = time.monotonic() - started
    return done


def assert_one_line_error(done, *fragments):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogen-doctor: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_state_loss_exits_1_with_every_json_field(four_workers):
    done = cli(four_workers + "/memory", "--format", "json", "--seed", 201)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert SPEC_FIELDS <= report.keys()
    assert (report["verdict"], report["cause"]) == ("state-loss", "process-local-state")
    assert report["causes"][0]["cause"] == "process-local-state" and report["causes"][0]["evidence"]
    assert (report["sessions"], report["turns"], report["replies"], report["errors"]) == (8, 4, 32, 0)
    assert len(report["backends"]) >= 2 and all(set(b) >= {"pod", "pid", "replies"} for b in report["backends"])
    assert report["recall"]["expected"] == 48 and 0 <= report["recall"]["rate"] < 1
    assert len(report["per_session"]) == 8
    # Not a terminal: no progress bar, nothing on stderr.
    assert done.stderr == ""


def test_pass_exits_0(four_workers):
    done = cli(four_workers + "/redis", "--format", "json", "--seed", 202, "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "pass"


def test_one_backend_is_inconclusive_exit_3(redis_url):
    with uvicorn_service(APP, env={"REDIS_URL": redis_url, "KEY_PREFIX": "cli1"}) as service:
        done = cli(service.url + "/memory", "--seed", 203)
    assert done.returncode == 3, done.stderr
    assert "inconclusive" in done.stdout.lower()


def test_record_then_replay_gives_the_same_verdict_and_hides_secrets(four_workers, tmp_path):
    recording = tmp_path / "run.jsonl"
    done = cli(four_workers + "/memory", "--format", "json", "--seed", 204, "--record", recording,
               "--header", "Authorization: Bearer sk-live-SECRET1", "--header", "X-Api-Key: SECRET2",
               "--body", '{"session_id": "{session}", "message": "{message}", "api_key": "SECRET3"}')
    assert done.returncode == 1, done.stderr
    text = recording.read_text()
    for secret in ("SECRET1", "SECRET2", "SECRET3"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["seed"] == 204 and len(lines) == 1 + 32
    assert lines[1]["request"]["headers"]["authorization"] == "[redacted]"
    assert {"session", "turn", "sent_at", "status", "latency_s", "backend", "expected", "recalled",
            "foreign", "attempts"} <= lines[1].keys()

    replayed = cli("--replay", recording, "--format", "json")
    assert replayed.returncode == 1, replayed.stderr
    live, again = json.loads(done.stdout), json.loads(replayed.stdout)
    for key in ("verdict", "cause", "causes", "recall", "backends", "per_session", "replies", "errors"):
        assert live[key] == again[key], key


@pytest.mark.parametrize("fmt, marker, seed", [("junit", "<testsuite", 205), ("markdown", "#", 206),
                                               ("html", "<html", 207)])
def test_output_formats_are_written_to_the_output_file(four_workers, tmp_path, fmt, marker, seed):
    # A seed of its own per run: the same seed replays the same sessions, which the workers'
    # dicts would already remember from the previous run.
    output = tmp_path / f"report.{fmt}"
    done = cli(four_workers + "/memory", "--format", fmt, "--output", output, "--seed", seed)
    assert done.returncode == 1, done.stderr + (output.read_text()[-3000:] if output.exists() else "")
    assert done.stdout == "" and marker in output.read_text()


def test_src_links_process_local_state_to_the_module_level_dict(four_workers, tmp_path):
    (tmp_path / "app.py").write_text(SERVICE_SOURCE)
    done = cli(four_workers + "/memory", "--format", "json", "--seed", 301, "--src", tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["cause"] == "process-local-state"
    linked = report["linked_findings"]
    assert linked and all(item["cause"] == "process-local-state" for item in linked)
    assert any(item["code"].startswith("AD1") and item["path"].endswith("app.py") for item in linked)


def test_closed_port_is_unreachable():
    assert_one_line_error(cli(f"http://127.0.0.1:{free_port()}/chat", "--retries", 0), "cannot reach", "refused")


def test_hanging_server_ends_within_the_timeout(misbehaving):
    done = cli(misbehaving + "/hang", "--timeout", 1, "--retries", 0)
    assert_one_line_error(done, "timed out")
    assert done.took < 8


def test_non_json_page_fails_every_request(misbehaving):
    assert_one_line_error(cli(misbehaving + "/not-json"), "every request", "web page")


def test_reply_path_missing_everywhere(misbehaving):
    assert_one_line_error(cli(misbehaving + "/cookie", "--reply-path", "data.text"), "'data.text' not found")


@pytest.mark.parametrize("args, fragment", [
    (["http://127.0.0.1:9/chat", "--body", '{"message": "{message}", "user": {session}'], "--body"),
    (["http://127.0.0.1:9/chat", "--body", '{"message": "{msg}"}'], "unknown placeholder"),
    ([], "URL is required"),
    (["127.0.0.1:8000/chat"], "http://"),
    (["http://127.0.0.1:9/chat", "--header", "no colon here"], "--header"),
    (["http://127.0.0.1:9/chat", "--format", "yaml"], "--format"),
    (["http://127.0.0.1:9/chat", "--concurrent-turns", "--turns", "2"], "--turns 3"),
    (["http://127.0.0.1:9/chat", "--sessions", "0"], "--sessions"),
    (["http://127.0.0.1:9/chat", "--turns", "10001"], "--turns must be at most 10000"),
    (["http://[::1/chat"], "http://host"),
    (["http://xn--.invalid/chat"], "is not valid"),
    (["--serve", "uvicorn app:api", "--port", "99999", "--workers", "1"], "--port must be between 1 and 65535"),
    (["--serve", "uvicorn app:api", "--port", "-1", "--workers", "1"], "--port must be between 1 and 65535"),
    (["--serve", "uvicorn app:api", "--workers", "1,99999"], "--workers counts must be at most 64"),
    (["http://127.0.0.1:9/chat", "--timeout", "inf"], "--timeout"),
    (["http://127.0.0.1:9/chat", "--header", "X-Caf\u00e9: 1"], "--header name"),
    (["http://127.0.0.1:9/chat", "--header", "X-Note: caf\u00e9"], "cannot carry"),
    (["http://127.0.0.1:9/chat", "--header", "X-Note: one\ntwo"], "cannot carry"),
])
def test_usage_errors_before_any_request(args, fragment):
    assert_one_line_error(cli(*args), fragment)


def test_bad_header_value_error_does_not_echo_a_secret():
    done = cli("http://127.0.0.1:9/chat", "--header", "Authorization: Bearer t\u00f6ken-XYZ")
    assert_one_line_error(done, "--header Authorization")
    assert "ken-XYZ" not in done.stderr


@pytest.mark.parametrize("content, fragment", [
    ("", "empty"),
    ("not json at all\n", "line 1: not JSON"),
    ('{"type": "turn", "session": "s"}\n', "no run header"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2}\n{"session": "s", "turn": "one"}\n',
     "line 2"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 1000000000000000000000000000000}\n', "'turns' must be"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 10001}\n', "'turns' must be between 2 and 10000"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2, "duration_s": "slow"}\n', "'duration_s'"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2, "codewords_by_session": {"s": 1}}\n',
     "codewords_by_session"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2}\n'
     '{"session": "s", "turn": 1, "planted": "adr-aaaa-bbbb", "status": "200"}\n',
     "line 2: turn record field 'status'"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2}\n'
     '{"session": "s", "turn": 1, "planted": "adr-aaaa-bbbb", "attempts": null}\n', "'attempts'"),
    ('{"type": "run", "url": "u", "sessions": 1, "turns": 2}\n'
     '{"session": "s", "turn": 1, "planted": "adr-aaaa-bbbb", "backend": {"pid": [1]}}\n', "'backend'"),
    ('{"type": "run", "url": "u", "sessions": 0, "turns": 2}\n', "'sessions' must be"),
])
def test_malformed_recordings_are_one_line_errors(tmp_path, content, fragment):
    recording = tmp_path / "bad.jsonl"
    recording.write_text(content)
    assert_one_line_error(cli("--replay", recording), fragment)


def test_recording_that_is_a_folder_is_a_plain_one_line_error(tmp_path):
    done = cli("--replay", tmp_path)
    assert_one_line_error(done, "not a regular file")
    assert "Errno" not in done.stderr


def test_missing_recording(tmp_path):
    assert_one_line_error(cli("--replay", tmp_path / "nope.jsonl"), "no such file")


def test_output_and_recording_create_missing_folders_like_scan_output(misbehaving, tmp_path):
    report = tmp_path / "reports" / "probe" / "verdict.json"
    recording = tmp_path / "recordings" / "run.jsonl"
    done = cli(misbehaving + "/cookie", "--sessions", "1", "--turns", "2", "--format", "json",
               "--output", report, "--record", recording)
    assert done.returncode != 2, done.stderr
    assert json.loads(report.read_text())["sessions"] == 1
    assert cli("--replay", recording, "--format", "json").returncode == done.returncode
