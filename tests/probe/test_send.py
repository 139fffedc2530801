"""Sending against a real uvicorn serving a misbehaving app: connections, cookies, streams,
and every kind of bad target ending as one clear error within the timeout."""

import socket
import struct
import threading
import time

import pytest

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.probe.command import run_probe
from autogen_doctor.probe.options import ProbeOptions
from support.services import free_port, uvicorn_service

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def target():
    with uvicorn_service("tests.probe.targets.misbehaving:app", workers=1) as service:
        yield service.url


def probe(url, **settings):
    options = ProbeOptions(url=url, **{"sessions": 3, "turns": 3, "seed": 5, **settings})
    return run_probe(options)


def failure(url, **settings) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(UserError) as error:
        probe(url, **settings)
    assert error.value.exit_code == ExitCode.USAGE
    message = str(error.value)
    assert "\n" not in message
    return message, time.monotonic() - started


def test_every_request_opens_a_new_connection_by_default(target):
    run = probe(target + "/conn", sessions=4, turns=4)
    ports = {record.response_headers["x-client-port"] for record in run.transcript.records}
    assert len(ports) == len(run.transcript.records) == 16


def test_reuse_connections_keeps_them_open(target):
    run = probe(target + "/conn", sessions=4, turns=4, concurrency=2, reuse_connections=True)
    ports = {record.response_headers["x-client-port"] for record in run.transcript.records}
    assert len(ports) <= 4 < len(run.transcript.records)


def test_cookies_are_kept_per_session_and_never_shared(target):
    # The /cookie service knows the conversation only from the cookie it set.
    run = probe(target + "/cookie", sessions=3, turns=4)
    records = run.transcript.records
    assert all(record.ok for record in records)
    assert all(record.recalled == record.expected for record in records)
    assert sum(len(record.expected) for record in records) == 3 * (1 + 2 + 3)
    assert not any(record.foreign for record in records)
    assert all(record.request["headers"].get("cookie", "[redacted]") == "[redacted]" for record in records)


def test_event_stream_replies_are_joined(target):
    run = probe(target + "/sse", sessions=2, turns=2)
    assert all(record.ok and record.planted in record.reply_text for record in run.transcript.records)


def test_secret_headers_are_sent_but_redacted_in_the_record(target):
    run = probe(target + "/echo", sessions=1, turns=2,
                headers=[("Authorization", "Bearer sk-live-abc"), ("X-Api-Key", "k-123"), ("X-Team", "blue")])
    for record in run.transcript.records:
        assert record.request["headers"]["authorization"] == "[redacted]"
        assert record.request["headers"]["x-api-key"] == "[redacted]"
        assert record.request["headers"]["x-team"] == "blue"
        assert "sk-live-abc" not in str(record.to_json())


def test_unreachable_port_fails_fast_with_one_line():
    message, took = failure(f"http://127.0.0.1:{free_port()}/chat", retries=1)
    assert "cannot reach" in message and "refused" in message
    assert took < 5


def test_tls_to_a_plain_http_port_is_a_tls_error(target):
    message, took = failure(target.replace("http://", "https://") + "/chat")
    assert "TLS" in message and took < 5


def test_a_connection_reset_without_a_word_is_still_named():
    # A real socket server that reads the request and resets the connection (what a TLS port
    # does to plain HTTP): httpx raises ReadError with an empty message.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)

    def reset_every_connection():
        try:
            while True:
                connection, _ = server.accept()
                connection.recv(65536)
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection.close()
        except OSError:  # the listening socket was closed: the test is over
            pass

    threading.Thread(target=reset_every_connection, daemon=True).start()
    try:
        message, took = failure(f"http://127.0.0.1:{server.getsockname()[1]}/chat", retries=0)
    finally:
        server.close()
    assert message.startswith("cannot reach") and "connection dropped: ReadError" in message
    assert not message.endswith(": ") and took < 5


def test_dns_failure_is_named(target):
    message, took = failure("http://no-such-host.invalid/chat", timeout=3, retries=0)
    assert "cannot reach" in message and ("DNS" in message or "timed out" in message)
    assert took < 8


@pytest.mark.parametrize("path", ["/hang", "/stream-forever"])
def test_a_server_that_never_finishes_is_cut_at_the_timeout(target, path):
    message, took = failure(target + path, timeout=0.5, retries=1)
    assert "timed out" in message and "within 0.5s" in message
    assert took < 4


@pytest.mark.parametrize("path, reason", [
    ("/missing", "HTTP 404 (9 of 9)"),
    ("/not-json", "web page"),
    ("/empty", "empty reply"),
    ("/redirect", "not followed"),
])
def test_every_request_failing_is_one_line_naming_the_reason(target, path, reason):
    message, _ = failure(target + path)
    assert message.startswith("every request to") and reason in message


def test_a_reply_path_that_never_exists_fails_every_request(target):
    message, _ = failure(target + "/cookie", reply_path="choices.0.message.content")
    assert "'choices.0.message.content' not found" in message


def test_malformed_body_fails_before_any_request():
    # Nothing listens on this port: a request would give "cannot reach" instead.
    message, took = failure(f"http://127.0.0.1:{free_port()}/chat", body='{"message": {message}}')
    assert "--body" in message and took < 1
