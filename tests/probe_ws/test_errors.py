"""Failures over WebSockets: error frames, close codes, refused and redirected handshakes,
oversize frames, slow and silent servers. Every wait ends within --timeout."""

import asyncio
import http
import json
import time

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Response

from autogen_doctor.exit_codes import UserError
from ws_support import probe, scripted_server
from ws_scripts import CODEWORD, agentchat_team, agentchat_team_failing, recall_line

PRESET = {"preset": "agentchat-team"}


def test_error_frames_on_every_turn_are_failed_turns_with_the_server_text_not_memory_loss():
    with scripted_server(agentchat_team_failing) as url:
        with pytest.raises(UserError) as raised:
            probe(url + "/ws/chat", **PRESET)
    message = str(raised.value)
    assert message.startswith("every turn to ")
    assert "the service reported an error: Error: Object of type datetime is not JSON serializable" in message


def test_an_error_frame_on_some_turns_fails_those_turns_only_and_stays_in_step():
    counts = {"n": 0}

    async def sometimes_failing(ws):
        words = []
        async for raw in ws:
            counts["n"] += 1
            if counts["n"] % 4 == 0:
                await ws.send(json.dumps({"type": "error", "content": "Error: flaky", "source": "system"}))
            else:
                words += CODEWORD.findall(raw)
                await ws.send(json.dumps({"type": "TextMessage", "source": "assistant", "content": recall_line(words)}))
            await ws.send(json.dumps({"type": "UserInputRequestedEvent", "source": "user", "content": ""}))

    with scripted_server(sometimes_failing) as url:
        run = probe(url, connection="session", sessions=2, turns=4, **PRESET)
    records = run.transcript.records
    failed = [record for record in records if not record.ok]
    assert failed and all(record.error == "the service reported an error: Error: flaky" for record in failed)
    # Stayed in step: every other turn got its own reply (the right codeword), on one connection.
    for record in records:
        if record.ok:
            assert record.planted in record.reply_text
    assert {record.ws["connection"] for record in records} == {1}


def test_close_code_before_the_turn_ends_is_named_with_its_reason():
    async def run_not_found(ws):
        await ws.close(4004, "Run not found")

    with scripted_server(run_not_found) as url:
        with pytest.raises(UserError) as raised:
            probe(url, **PRESET)
    assert "the server closed the connection (code 4004 Run not found) before the turn ended" in str(raised.value)


def test_refused_handshake_is_an_http_status_error_and_4xx_is_not_retried():
    calls = {"n": 0}

    def refuse(connection, request):
        calls["n"] += 1
        return connection.respond(http.HTTPStatus.FORBIDDEN, "no\n")

    with scripted_server(agentchat_team, process_request=refuse) as url:
        with pytest.raises(UserError) as raised:
            probe(url, retries=2, sessions=1, turns=2, **PRESET)
    assert "HTTP 403: the WebSocket handshake was refused" in str(raised.value)
    assert calls["n"] == 2  # one attempt per turn, no retry


def test_5xx_handshake_is_retried_on_a_new_connection():
    calls = {"n": 0}

    def unavailable_once(connection, request):
        calls["n"] += 1
        if calls["n"] == 1:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "starting\n")
        return None

    with scripted_server(agentchat_team, process_request=unavailable_once) as url:
        run = probe(url, retries=2, sessions=1, turns=2, **PRESET)
    first = run.transcript.records[0]
    assert first.ok and first.attempts == 2 and run.verdict.retries == 1


def test_redirects_are_not_followed():
    def redirect(connection, request):
        headers = Headers([("Location", "ws://127.0.0.1:9/elsewhere"), ("Content-Length", "0")])
        return Response(302, "Found", headers)

    with scripted_server(agentchat_team, process_request=redirect) as url:
        with pytest.raises(UserError) as raised:
            probe(url, sessions=1, turns=2, **PRESET)
    assert "HTTP 302 redirect to ws://127.0.0.1:9/elsewhere not followed" in str(raised.value)


def test_a_frame_over_the_limit_fails_the_turn_with_1009():
    async def huge(ws):
        async for raw in ws:
            await ws.send(json.dumps({"type": "TextMessage", "source": "assistant", "content": "x" * 4096}))
            await ws.send(json.dumps({"type": "UserInputRequestedEvent", "source": "user", "content": ""}))

    with scripted_server(huge) as url:
        with pytest.raises(UserError) as raised:
            probe(url, max_frame=2048, sessions=1, turns=2, **PRESET)
    assert "a frame was larger than --ws-max-frame (2048 bytes)" in str(raised.value)
    assert "1009" in str(raised.value)


def test_a_silent_server_times_out_within_the_timeout():
    async def silent(ws):
        await asyncio.sleep(30)

    with scripted_server(silent) as url:
        started = time.monotonic()
        with pytest.raises(UserError) as raised:
            probe(url, timeout=0.5, sessions=2, turns=2, **PRESET)
        took = time.monotonic() - started
    assert "no end of turn within 0.5s (timed out)" in str(raised.value)
    assert took < 10  # bounded: not a hang (a bound, not a speed claim)


def test_a_slow_server_within_the_timeout_is_fine():
    async def slow(ws):
        words = []
        async for raw in ws:
            await asyncio.sleep(0.3)
            words += CODEWORD.findall(raw)
            await ws.send(json.dumps({"type": "TextMessage", "source": "assistant", "content": recall_line(words)}))
            await asyncio.sleep(0.3)
            await ws.send(json.dumps({"type": "UserInputRequestedEvent", "source": "user", "content": ""}))

    with scripted_server(slow) as url:
        run = probe(url, timeout=3, connection="session", sessions=2, turns=2, **PRESET)
    assert all(record.ok for record in run.transcript.records)
    assert run.verdict.recall.rate == 1.0


def test_a_ready_frame_that_never_comes_is_a_bounded_error():
    with scripted_server(agentchat_team) as url:
        with pytest.raises(UserError) as raised:
            probe(url, ready=["type=system"], timeout=0.5, sessions=1, turns=2, **PRESET)
    assert "no ready frame (type=system) within 0.5s of connecting" in str(raised.value)


def test_a_closed_port_is_unreachable():
    from support.services import free_port

    with pytest.raises(UserError) as raised:
        probe(f"ws://127.0.0.1:{free_port()}/ws/chat", **PRESET)
    assert "cannot reach" in str(raised.value) and "connection refused" in str(raised.value)


def test_server_text_in_errors_is_escaped():
    async def hostile(ws):
        async for _ in ws:
            await ws.send(json.dumps({"type": "error", "content": "boom\x1b[2J\n::error::forged"}))
            await ws.send(json.dumps({"type": "UserInputRequestedEvent", "content": ""}))

    with scripted_server(hostile) as url:
        with pytest.raises(UserError) as raised:
            probe(url, sessions=1, turns=2, **PRESET)
    message = str(raised.value)
    assert "\x1b" not in message and "\n" not in message
    assert "boom\\x1b[2J\\n::error::forged" in message
