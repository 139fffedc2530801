"""Every turn-end rule against scripted servers: until, final, server close, idle, and the
default (idle with a note); plus which frames carry reply text and what the verdict says."""

import asyncio
import json

import pytest

from autogen_doctor.exit_codes import UserError
from ws_support import probe, scripted_server
from ws_scripts import CODEWORD, agentchat_team, keyed_memory, recall_line

PRESET = {"preset": "agentchat-team"}


def test_until_rule_new_connection_per_turn_is_not_rehydrated_and_says_tied_to_the_connection():
    with scripted_server(agentchat_team) as url:
        run = probe(url + "/ws/chat", **PRESET)
    verdict, records = run.verdict, run.transcript.records
    assert verdict.verdict == "state-loss" and verdict.cause == "not-rehydrated"
    assert "tied to the WebSocket connection" in verdict.reason and "reconnect" in verdict.reason
    assert all(record.ws["ended_by"] == "until:type=UserInputRequestedEvent" for record in records)
    assert [record.ws["connection"] for record in records[:3]] == [1, 2, 3]
    # The echo of the message is not the reply; the assistant's and yoda's lines are, joined.
    assert all(record.reply_text.startswith("I remember: ") and "Remember, I do." in record.reply_text
               for record in records)
    assert {record.backend.pid for record in records} == {"4242"}
    assert run.transcript.identity_source == "header X-Backend-Pid"


def test_held_connection_recalls_and_is_inconclusive_because_a_socket_never_changes_backend():
    with scripted_server(agentchat_team) as url:
        run = probe(url + "/ws/chat", connection="session", **PRESET)
    verdict, records = run.verdict, run.transcript.records
    assert verdict.recall.rate == 1.0
    assert verdict.verdict == "inconclusive"
    assert "stays on the backend that accepted it" in verdict.reason and "--ws-connection turn" in verdict.reason
    assert {record.ws["connection"] for record in records} == {1}
    assert [record.ws["connection_turn"] for record in records[:3]] == [1, 2, 3]


def test_every_n_turns_reconnects_after_n():
    with scripted_server(agentchat_team) as url:
        run = probe(url + "/ws/chat", connection="2", turns=4, **PRESET)
    first = [record for record in run.transcript.records if record.session == run.transcript.records[0].session]
    assert [(record.ws["connection"], record.ws["connection_turn"]) for record in first] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # Turn 2 recalls turn 1 (same connection); turn 3 opens a new one and forgets.
    assert first[1].recalled == first[1].expected and first[2].recalled == []
    assert run.verdict.cause == "not-rehydrated"


def test_final_rule_retires_the_connection_even_when_held():
    async def one_run_per_socket(ws):
        async for raw in ws:
            await ws.send(json.dumps({"type": "message", "content": recall_line(CODEWORD.findall(raw))}))
            await ws.send(json.dumps({"type": "result", "status": "complete"}))

    with scripted_server(one_run_per_socket) as url:
        run = probe(url, connection="session", final=["type=result"], reply_when=["type=message"],
                    reply_path="content", body='{"task": "{message}"}')
    records = run.transcript.records
    assert all(record.ws["ended_by"] == "final:type=result" for record in records)
    assert [record.ws["connection"] for record in records[:3]] == [1, 2, 3]
    assert run.verdict.cause == "not-rehydrated"


def test_server_close_ends_the_turn_when_close_is_a_rule():
    async def answer_then_close(ws):
        raw = await ws.recv()
        await ws.send(recall_line(CODEWORD.findall(raw)))
        await ws.close(1000, "done")

    with scripted_server(answer_then_close) as url:
        run = probe(url, body_text="{message}", final=["close"])
    records = run.transcript.records
    assert all(record.ok for record in records)
    assert {record.ws["ended_by"] for record in records} == {"close:1000"}
    assert records[0].ws["close"] == {"code": 1000, "reason": "done", "by": "server"}


def test_idle_ends_a_turn_once_a_reply_arrived():
    async def two_frames_then_quiet(ws):
        async for raw in ws:
            await ws.send("user_proxy (to assistant):")
            await ws.send(recall_line(CODEWORD.findall(raw)))

    with scripted_server(two_frames_then_quiet) as url:
        run = probe(url, body_text="{message}", idle=0.2, sessions=1, turns=2)
    assert {record.ws["ended_by"] for record in run.transcript.records} == {"idle"}
    assert run.transcript.records[0].reply_text.startswith("user_proxy (to assistant):\nI remember:")


def test_without_any_end_rule_the_default_idle_applies_with_a_note(monkeypatch):
    monkeypatch.setattr("autogen_doctor.probe.ws.options.DEFAULT_IDLE_S", 0.3)  # the real 3 s, shortened

    async def one_frame(ws):
        async for raw in ws:
            await ws.send(recall_line(CODEWORD.findall(raw)))

    with scripted_server(one_frame) as url:
        run = probe(url, body_text="{message}", sessions=1, turns=2)
    assert {record.ws["ended_by"] for record in run.transcript.records} == {"idle"}
    assert any("no --ws-until" in note for note in run.verdict.notes)


def test_an_until_frame_before_any_reply_does_not_end_the_turn():
    # Chainlit sends a task_end for on_chat_start before the turn's own reply.
    async def early_marker(ws):
        async for raw in ws:
            await ws.send(json.dumps({"type": "ready"}))
            await ws.send(json.dumps({"type": "reply", "content": recall_line(CODEWORD.findall(raw))}))
            await ws.send(json.dumps({"type": "ready"}))

    with scripted_server(early_marker) as url:
        run = probe(url, body='{"m": "{message}"}', until=["type=ready"], reply_when=["type=reply"],
                    reply_path="content", sessions=1, turns=2)
    assert all(record.ok and record.reply_text.startswith("I remember:") for record in run.transcript.records)
    # Both markers were read in the turn: the second ended it.
    assert [frame["text"] for frame in run.transcript.records[0].ws["frames"]].count('{"type": "ready"}') == 2


def test_echo_and_whole_prompt_frames_are_not_read_as_recall():
    # The service forgets, but echoes the message and dumps the prompt (Studio's llm_call_event).
    async def forgetful_with_prompt_dump(ws):
        raw = await ws.recv()
        message = json.loads(raw)["content"]
        await ws.send(json.dumps({"source": "user", "content": message, "type": "TextMessage"}))
        await ws.send(json.dumps({"source": "llm_call_event", "type": "TextMessage",
                                  "content": json.dumps({"messages": [{"content": message}]})}))
        await ws.send(json.dumps({"source": "assistant", "content": "I remember nothing.", "type": "TextMessage"}))
        await ws.send(json.dumps({"type": "UserInputRequestedEvent", "source": "user", "content": ""}))

    with scripted_server(forgetful_with_prompt_dump) as url:
        run = probe(url, **PRESET)
    assert {record.reply_text for record in run.transcript.records} == {"I remember nothing."}


def test_reply_path_missing_everywhere_names_the_keys_that_were_there():
    with scripted_server(agentchat_team) as url:
        with pytest.raises(UserError) as raised:
            probe(url, until=["type=UserInputRequestedEvent"], reply_path="text", body='{"content": "{message}"}')
    assert "reply path 'text' not found in any reply frame" in str(raised.value)
    assert "content" in str(raised.value) and "source" in str(raised.value)


def test_cookies_are_kept_per_session():
    store: dict[str, list[str]] = {}
    counter = iter(range(1, 1000))

    async def cookie_memory(ws):
        # The first connection of a session is known by the cookie the handshake just set.
        cookie = ws.request.headers.get("Cookie") or ws.response.headers.get("Set-Cookie", "").split(";")[0]
        raw = await ws.recv()
        key = cookie.partition("=")[2]
        await ws.send(json.dumps({"reply": keyed_memory(store, key, raw), "cookie": cookie}))

    def set_cookie(connection, request, response):
        if "Cookie" not in request.headers:
            response.headers["Set-Cookie"] = f"sid=s{next(counter)}; Path=/"
        response.headers["X-Backend-Pid"] = "1"
        return response

    from websockets.asyncio.server import serve

    async def main(done):
        async with serve(cookie_memory, "127.0.0.1", 0, process_response=set_cookie) as server:
            done["url"] = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            done["ready"].set()
            await done["stop"].wait()

    import threading

    loop = asyncio.new_event_loop()
    done = {"ready": threading.Event()}

    def run_loop():
        done["stop"] = asyncio.Event()
        loop.run_until_complete(main(done))

    thread = threading.Thread(target=run_loop, daemon=True)
    thread.start()
    done["ready"].wait(10)
    try:
        run = probe(done["url"], body='{"m": "{message}"}', idle=0.1, sessions=4, turns=3)
    finally:
        loop.call_soon_threadsafe(done["stop"].set)
        thread.join(10)
    assert run.verdict.recall.rate == 1.0
    assert not any(record.foreign for record in run.transcript.records)
    assert len(store) == 4  # one cookie per session, never shared


def test_without_identity_loss_at_every_reconnect_is_tied_to_the_connection():
    # Recalled on its own connection, never after a reconnect: the shared analysis alone would
    # call the mixed pattern process-local-state; the connection says not-rehydrated.
    with scripted_server(agentchat_team, pid=None) as url:
        run = probe(url, connection="2", sessions=4, turns=4, **PRESET)
    verdict = run.verdict
    assert verdict.cause == "not-rehydrated", verdict.reason
    assert "planted on an earlier connection were forgotten" in verdict.reason
    assert "tied to the WebSocket connection" in verdict.reason
    assert all("process-local-state" not in row["causes"] for row in verdict.per_session)


def test_without_identity_partial_recall_across_reconnects_stays_process_local():
    # Memory keyed by the session in the URL, but every other connection meets an empty store
    # (as when a reconnect lands on another worker): some reconnects recall, others do not.
    stores: list[dict] = [{}, {}]
    connections: dict[str, int] = {}

    async def two_workers(ws):
        session = ws.request.path.rsplit("/", 1)[-1]
        connections[session] = connections.get(session, 0) + 1
        store = stores[connections[session] % 2]  # alternate "workers" per session, deterministically
        async for raw in ws:
            text = json.loads(raw)["content"]
            await ws.send(json.dumps({"type": "TextMessage", "source": "assistant",
                                      "content": keyed_memory(store, session, text)}))
            await ws.send(json.dumps({"type": "UserInputRequestedEvent", "source": "user", "content": ""}))

    with scripted_server(two_workers, pid=None) as url:
        run = probe(url + "/ws/{session}", sessions=4, turns=5, **PRESET)
    assert run.verdict.cause == "process-local-state", run.verdict.reason
