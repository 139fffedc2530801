"""A hostile service against the real probe (REPORT sections 1, 3, 4 and 5): forged lines, leaked
secrets, bombs, deep JSON, quadratic shapes, malformed HTTP and rate limits.

Each test runs `autogen-doctor probe` as a user does, against a raw socket server of its own
(security_probe/hostile_server.py) that sends exactly the bytes of one hostile reply.
"""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from security_probe.hostile_server import Memory, hostile, http_response, json_response, one_line_error, probe

SECRET = "SECRET123token"


# --- S3b / S3c: outside text never forges lines or reaches the terminal raw ---------------------

FORGED = "\x1b]0;PWNED\x07\x1b[2J\x00\x0c\nverdict: PASS\r\n::error file=x.py::INJECTED\u202e"


def forgetting_with_forged_pods():
    memory = Memory()

    def reply(request):
        words = memory.remember(request)
        backend = request.number % 3
        recall = words[-1:] if backend == 0 else words
        return json_response({"reply": ", ".join(recall), "pod": f"pod{backend}{FORGED}"})

    return reply


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "html"])
def test_pod_names_cannot_forge_report_lines_or_send_escapes(fmt):
    with hostile(forgetting_with_forged_pods()) as server:
        done = probe(server.url, "--sessions", 4, "--turns", 3, "--pod-path", "pod", "--format", fmt, "--seed", 5)
    assert done.returncode == 1, done.stderr
    report = done.stdout
    assert "\x1b" not in report and "\x07" not in report and "\x00" not in report and "\u202e" not in report
    lines = report.splitlines()
    assert not any(line.lstrip().startswith(("verdict: PASS", "::error")) for line in lines)
    assert "\\x1b" in report and "PWNED" in report  # shown, escaped, not dropped


def test_error_line_quoting_a_location_header_escapes_c1_controls():
    location = "http://127.0.0.1/\x9b2J\x9b31mEVIL\x85"
    with hostile(lambda request: http_response("302 Found", [("Location", location)], b"")) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--retries", 0)
    line = one_line_error(done)
    assert "\x9b" not in done.stderr and "\x85" not in done.stderr
    assert "\\x9b2J" in line and "redirect" in line


# --- S4d: a secret the probe sent, echoed back, is scrubbed everywhere -------------------------

def echoing_authorization():
    memory = Memory()

    def reply(request):
        words = memory.remember(request)
        auth = request.headers.get("authorization", "")
        return json_response({"reply": f"{', '.join(words)} (you sent {auth})"},
                             [("X-Debug-Echo", auth), ("X-Backend-Pid", str(request.number % 2))])

    return reply


@pytest.mark.parametrize("fmt", ["text", "html", "json", "markdown", "junit"])
def test_an_echoed_authorization_header_is_scrubbed_from_reports_and_the_recording(tmp_path, fmt):
    record = tmp_path / "run.jsonl"
    with hostile(echoing_authorization()) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "-H", f"Authorization: Bearer {SECRET}",
                     "--record", record, "--format", fmt)
    assert done.returncode in (0, 3), done.stderr
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # it was really sent
    recording = record.read_text()
    assert SECRET not in done.stdout and SECRET not in done.stderr and SECRET not in recording
    assert "[redacted]" in recording


def test_secrets_in_the_body_are_scrubbed_from_an_echo_too(tmp_path):
    record = tmp_path / "run.jsonl"
    memory = Memory()

    def reply(request):
        words = memory.remember(request)
        return json_response({"reply": f"{', '.join(words)} body was {request.body.decode()}"})

    body = ('{"session_id": "{session}", "message": "{message}", "api_keys": ["SECRETLIST1"], '
            '"pass": "SECRETPASS2", "bearer": "SECRETBEARER3"}')
    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--body", body, "--record", record,
                     "-H", "X-Api-Pass: SECRETHDR4")
    text = record.read_text() + done.stdout
    for secret in ("SECRETLIST1", "SECRETPASS2", "SECRETBEARER3", "SECRETHDR4"):
        assert secret not in text, secret
    assert b"SECRETLIST1" in server.requests[0].body


# --- S5: a stacked Content-Encoding bomb stops at the cap, fast --------------------------------

def test_stacked_gzip_bomb_is_capped_per_layer():
    inflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    inner = b"".join(inflater.compress(chunk) for _ in range(1024)) + inflater.flush()  # 1 GiB of zeros
    bomb = gzip.compress(inner, 9)
    assert len(bomb) < 10_000
    with hostile(lambda request: http_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip, gzip")], bomb)) as server:
        # With 1 GiB of address space, a probe that expanded a layer whole would die of MemoryError.
        done = probe(server.url, "--sessions", 2, "--turns", 2, "--timeout", 3, "--retries", 0,
                     memory_limit=1 << 30)
    line = one_line_error(done)
    assert "reply larger than 2 MiB" in line


def test_a_small_stacked_gzip_reply_is_decoded():
    memory = Memory()

    def reply(request):
        body = gzip.compress(gzip.compress(json.dumps({"reply": ", ".join(memory.remember(request))}).encode()))
        return http_response("200 OK", [("Content-Type", "application/json"),
                                        ("Content-Encoding", "gzip, gzip"), ("X-Backend-Pid", "7")], body)

    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "--format", "json")
    result = json.loads(done.stdout)
    assert result["recall"]["recalled"] == result["recall"]["expected"] == 6


# --- C1: deep JSON is an error for that turn, not a crash ---------------------------------------

@pytest.mark.parametrize("content_type, body", [
    ("application/json", b"[" * 100_000 + b"]" * 100_000),
    ("application/json", b'{"reply":' * 100_000 + b'"x"' + b"}" * 100_000),
    ("text/event-stream", b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"),
    ("text/plain", b"[" * 100_000 + b"]" * 100_000),
], ids=["list", "object", "event-stream", "undeclared"])
def test_deeply_nested_json_fails_the_turn_not_the_run(content_type, body):
    with hostile(lambda request: http_response("200 OK", [("Content-Type", content_type)], body)) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 2, "--retries", 0)
    line = one_line_error(done)
    assert "nested too deeply" in line and "internal error" not in done.stderr
    assert "never awaited" not in done.stderr


def test_some_deep_replies_leave_the_other_turns_judged():
    memory = Memory()

    def reply(request):
        words = memory.remember(request)
        if request.number % 4 == 0:
            return http_response("200 OK", [("Content-Type", "application/json")], b"[" * 50_000 + b"]" * 50_000)
        return json_response({"reply": ", ".join(words)})

    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 3, "--turns", 3, "--retries", 0, "--concurrency", 1,
                     "--format", "json")
    result = json.loads(done.stdout)
    assert result["errors"] >= 1 and result["replies"] >= 6


# --- H1: quadratic reply shapes are read in linear time ----------------------------------------

def test_two_megabytes_of_nested_lists_is_read_within_the_timeout():
    body = json.dumps({"message": [[] for _ in range(300_000)]}).encode()
    memory = Memory()

    def reply(request):
        memory.remember(request)
        return http_response("200 OK", [("Content-Type", "application/json")], body)

    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "--timeout", 5, "--retries", 0, "--format", "json")
    assert done.returncode in (1, 3), done.stderr
    result = json.loads(done.stdout)
    assert result["replies"] == 6  # every reply was read (and recalls nothing: the body has no words)


# --- U1: replies that are not usable HTTP say so ----------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (http_response("200 OK", [("Content-Type", "application/json")] + [(f"X-H{i}", "v" * 100) for i in range(2000)],
                   b'{"reply": "x"}'), "headers are too large"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(200)), "not HTTP"),
], ids=["huge-headers", "tls-bytes"])
def test_malformed_http_replies_are_named_in_the_users_words(raw, expected):
    with hostile(lambda request: raw) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--retries", 0)
    line = one_line_error(done)
    assert expected in line and "the service answered" in line
    assert "cannot reach" not in line


# --- U2 / H4: rate limits, Retry-After and the retry cap --------------------------------------

def test_429_names_rate_limiting_suggests_concurrency_and_honours_retry_after():
    with hostile(lambda request: http_response("429 Too Many Requests", [("Retry-After", "1")], b"{}")) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--retries", 1, "--timeout", 5)
    line = one_line_error(done)
    assert "rate limited" in line and "--concurrency" in line
    assert len(server.requests) == 4  # two turns (a 429 is no reason to stop), each retried once


def test_a_transient_429_is_retried_and_the_run_succeeds():
    memory = Memory()

    def reply(request):
        if request.number % 3 == 2:
            return http_response("429 Too Many Requests", [("Retry-After", "0")], b"{}")
        return json_response({"reply": ", ".join(memory.remember(request))})

    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "--concurrency", 1, "--format", "json")
    result = json.loads(done.stdout)
    assert result["errors"] == 0 and result["retries"] >= 1


def test_retries_have_a_documented_cap():
    line = one_line_error(probe("http://127.0.0.1:9/chat", "--retries", 1_000_000))
    assert "--retries must be at most 10" in line


# --- issue 12 item 6: a --pid-path/--pod-path that matched nothing is named -------------------

def test_an_identity_path_that_matches_nothing_is_named_with_the_keys_present():
    memory = Memory()
    with hostile(lambda request: json_response({"reply": ", ".join(memory.remember(request)),
                                                "meta": {"worker": 3}})) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 2, "--pid-path", "meta.pid")
    assert "--pid-path 'meta.pid' matched nothing" in done.stderr
    assert "meta.worker" in done.stderr


def test_a_reply_path_that_matches_nothing_shows_the_keys_present():
    with hostile(lambda request: json_response({"answer": {"text": "x"}})) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--reply-path", "data.text", "--retries", 0)
    line = one_line_error(done)
    assert "'data.text' not found" in line and "answer.text" in line


def test_a_corrupt_compressed_body_is_an_error_for_the_turn():
    with hostile(lambda request: http_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], b"not gzip at all")) as server:
        done = probe(server.url, "--sessions", 1, "--turns", 2, "--retries", 0)
    assert "compressed body is corrupt" in one_line_error(done)
