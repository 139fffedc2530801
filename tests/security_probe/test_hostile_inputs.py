"""A careless user and a damaged recording against the real probe (REPORT S4b/c/e, C2, H2-H5, D1, D4).

Real files on disk (tmp_path, a FIFO, /dev/zero) and a closed or real socket; every bad input must
end as one `autogen-doctor: error:` line with exit 2, before any request when it can be found then.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from security_probe.hostile_server import Memory, hostile, json_response, one_line_error, probe


def closed_port_url() -> str:
    from autogen_doctor.probe.process import free_port

    return f"http://127.0.0.1:{free_port()}/chat"


def remembering():
    memory = Memory()
    return lambda request: json_response({"reply": ", ".join(memory.remember(request))},
                                         [("X-Backend-Pid", str(request.number % 2))])


# --- S4b / S4e: secrets given on the command line never come back in an error -----------------

def test_a_malformed_header_is_not_echoed():
    line = one_line_error(probe(closed_port_url(), "-H", "Authorization Bearer SECRET123"))
    assert "SECRET123" not in line and "--header must look like 'Name: value'" in line


@pytest.mark.parametrize("url", [
    "http://user:SECRETPW@127.0.0.1:99999/chat",
    "ftp://user:SECRETPW@127.0.0.1/chat",
    "http://user:SECRETPW@xn--.x/chat",
    "http://user:SECRETPW@[::1/chat",
])
def test_url_errors_never_show_the_password(url):
    done = probe(url)
    line = one_line_error(done)
    assert "SECRETPW" not in done.stderr and "[redacted]@" in line


def test_url_credentials_and_an_explicit_authorization_header_together_are_a_usage_error():
    with hostile(remembering()) as server:
        url = server.url.replace("http://", "http://user:SECRETPW@")
        done = probe(url, "-H", "Authorization: Bearer EXPLICIT", "--sessions", 1, "--turns", 2)
        line = one_line_error(done)
        assert "user:password@" in line and "Authorization" in line and "SECRETPW" not in line
        assert server.requests == []  # refused before anything was sent


def test_url_credentials_alone_are_sent_and_redacted_in_the_recording(tmp_path):
    record = tmp_path / "run.jsonl"
    with hostile(remembering()) as server:
        url = server.url.replace("http://", "http://user:SECRETPW@")
        done = probe(url, "--sessions", 1, "--turns", 2, "--record", record)
    assert done.returncode in (0, 3), done.stderr
    assert server.requests[0].headers["authorization"].startswith("Basic ")
    assert "SECRETPW" not in record.read_text() and "dXNlcjpTRUNSRVRQVw" not in record.read_text()


# --- D1: output paths are checked before the first request ------------------------------------

def test_an_unwritable_record_path_fails_before_any_request(tmp_path):
    with hostile(remembering()) as server:
        line = one_line_error(probe(server.url, "--record", "/proc/nope/run.jsonl"))
        assert "--record" in line and server.requests == []


def test_an_output_that_is_a_folder_fails_before_any_request(tmp_path):
    with hostile(remembering()) as server:
        line = one_line_error(probe(server.url, "--output", tmp_path))
        assert "is a folder" in line and server.requests == []


def test_record_and_output_naming_the_same_file_is_a_usage_error(tmp_path):
    target = tmp_path / "same.jsonl"
    with hostile(remembering()) as server:
        line = one_line_error(probe(server.url, "--record", target, "--output", tmp_path / "." / "same.jsonl"))
        assert "same file" in line and server.requests == [] and not target.exists()


# --- H2: a huge plan costs nothing before the first request -----------------------------------

def test_a_million_sessions_against_a_closed_port_ends_at_once():
    done = probe(closed_port_url(), "--sessions", 1_000_000, "--turns", 10_000, "--retries", 0, timeout=60)
    line = one_line_error(done)
    assert "cannot reach" in line and "connection refused" in line


def test_the_lazy_plan_still_sends_every_session_with_unique_codewords(tmp_path):
    record = tmp_path / "run.jsonl"
    with hostile(remembering()) as server:
        done = probe(server.url, "--sessions", 9, "--turns", 3, "--concurrency", 4, "--record", record)
    assert done.returncode in (0, 3), done.stderr
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    turns = lines[1:]
    assert len(turns) == 27 and len({turn["planted"] for turn in turns}) == 27
    assert len(lines[0]["codewords_by_session"]) == 9
    sent = {(request.document["session_id"]) for request in server.requests}
    assert sent == set(lines[0]["codewords_by_session"])


# --- H5 / C2 / D4: recordings are validated, bounded and regular files only ------------------

def test_replay_of_a_device_is_refused_at_once():
    line = one_line_error(probe("--replay", "/dev/zero", timeout=30))
    assert "not a regular file" in line


def test_replay_of_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    line = one_line_error(probe("--replay", fifo, timeout=30))
    assert "not a regular file" in line


HEADER = {"type": "run", "url": "http://x/chat", "sessions": 1, "turns": 3,
          "codewords_by_session": {"adr-s1-aaaa": ["adr-aaaa-aaaa", "adr-bbbb-bbbb", "adr-cccc-cccc"]}}


def turn(number: int, **changes) -> dict:
    record = {"type": "turn", "session": "adr-s1-aaaa", "turn": number, "planted": f"adr-{'abc'[number - 1] * 4}-aaaa",
              "status": 200, "latency_s": 0.01}
    record.update(changes)
    return record


def write_recording(path, header, *records, raw_lines=()):
    lines = [json.dumps(header), *(json.dumps(record) for record in records), *raw_lines]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("records, fragment", [
    ([turn(1, turn=-5)], "'turn' must be between 1"),
    ([turn(1, turn=0)], "'turn' must be between 1"),
    ([turn(1, turn=10 ** 100)], "'turn' must be between 1"),
    ([turn(1, status=-1)], "'status' must be an HTTP status"),
    ([turn(1, status=10 ** 100)], "'status' must be an HTTP status"),
    ([turn(1, latency_s=-1)], "'latency_s' must be a finite number"),
    ([turn(1), turn(1)], "a second record for turn 1"),
], ids=["turn-negative", "turn-zero", "turn-huge", "status-negative", "status-huge", "latency-negative", "duplicate"])
def test_replay_rejects_hand_edited_nonsense_naming_the_line(tmp_path, records, fragment):
    path = write_recording(tmp_path / "bad.jsonl", HEADER, *records)
    line = one_line_error(probe("--replay", path))
    assert fragment in line and "line " in line


def test_replay_rejects_nan_latency_and_a_one_turn_header(tmp_path):
    nan = tmp_path / "nan.jsonl"
    nan.write_text(json.dumps(HEADER) + "\n" + json.dumps(turn(1)).replace('"latency_s": 0.01', '"latency_s": NaN') + "\n")
    assert "'latency_s' must be a finite number" in one_line_error(probe("--replay", nan))
    short = write_recording(tmp_path / "short.jsonl", {**HEADER, "turns": 1}, turn(1))
    assert "'turns' must be between 2" in one_line_error(probe("--replay", short))


@pytest.mark.parametrize("where", ["header", "turn"])
def test_deep_nesting_in_a_recording_is_a_one_line_error(tmp_path, where):
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.jsonl"
    if where == "header":
        path.write_text('{"type": "run", "x": ' + deep + "}\n")
    else:
        path.write_text(json.dumps(HEADER) + "\n" + '{"type": "turn", "x": ' + deep + "}\n")
    line = one_line_error(probe("--replay", path))
    assert "nested too deeply" in line and "line " in line


def test_json_output_of_a_replay_never_writes_nan_or_infinity(tmp_path):
    path = tmp_path / "inf.jsonl"
    path.write_text(json.dumps({**HEADER, "duration_s": float("inf")}) + "\n"
                    + "\n".join(json.dumps(turn(n, expected=[], recalled=[])) for n in (1, 2, 3)) + "\n")
    done = probe("--replay", path, "--format", "json")
    # Either a one-line error naming duration_s, or strict JSON: never a bare Infinity.
    if done.returncode == 2:
        assert "duration_s" in one_line_error(done)
    else:
        json.loads(done.stdout, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))


# --- H3: the session map is linear in sessions ------------------------------------------------

def test_a_recording_with_many_sessions_renders_every_format(tmp_path):
    sessions = 20_000
    header = {"type": "run", "url": "http://x/chat", "sessions": sessions, "turns": 2, "codewords_by_session": {}}
    lines = [json.dumps(header)]
    for index in range(sessions):
        for number in (1, 2):
            lines.append(json.dumps({"type": "turn", "session": f"adr-s{index}-aaaa", "turn": number,
                                     "planted": f"adr-{index:04d}-{number:04d}"[:13], "status": 200,
                                     "backend": {"pod": None, "pid": str(number)}}))
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for fmt in ("text", "html"):
        done = probe("--replay", path, "--format", fmt, "--output", tmp_path / f"report.{fmt}", timeout=300)
        assert done.returncode in (0, 1, 3), done.stderr
        assert (tmp_path / f"report.{fmt}").stat().st_size > 0


# --- H4: progress without a terminal ----------------------------------------------------------

def test_retries_are_visible_in_a_log_without_a_terminal(monkeypatch):
    from security_probe.hostile_server import http_response

    # Progress lines are throttled to one per interval; a 1 s interval keeps the test short.
    with hostile(lambda request: http_response("503 Service Unavailable", [("Retry-After", "1")], b"busy")) as server:
        done = subprocess.run(
            [sys.executable, "-c", "import autogen_doctor.probe.command as c; c.PLAIN_PROGRESS_EVERY_S = 0.5; "
             "import sys; from autogen_doctor.cli import main; sys.argv = ['autogen-doctor', 'probe', "
             f"'{server.url}', '--sessions', '1', '--turns', '2', '--retries', '3', '--timeout', '2']; main()"],
            capture_output=True, text=True, timeout=120)
    assert "autogen-doctor: probing:" in done.stderr and "retries" in done.stderr, done.stderr
