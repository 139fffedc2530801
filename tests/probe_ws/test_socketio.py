"""Socket.IO framing (Engine.IO v4 / Socket.IO v5 over the websocket transport) against a
scripted server that speaks Chainlit's events, including its early task_end and server pings."""

import asyncio
import json

import pytest

from autogen_doctor.exit_codes import UserError
from ws_support import probe, scripted_server
from ws_scripts import keyed_memory

OPEN = '0{"sid":"eio-1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'


def emit(event, data=None):
    return "42" + json.dumps([event] if data is None else [event, data])


def chainlit_like(store, seen):
    """A Chainlit-shaped server: memory in a process-wide dict keyed by the client's sessionId."""

    async def handler(ws):
        seen.setdefault("queries", []).append(ws.request.path)
        await ws.send(OPEN)
        connect = await ws.recv()
        auth = json.loads(connect[2:])
        seen.setdefault("auth", []).append(auth)
        if "sessionId" not in auth:
            await asyncio.sleep(30)  # like Chainlit: no answer at all
            return
        await ws.send('40{"sid":"sio-1"}')
        await ws.send("2")  # a server ping: the probe must answer 3
        session = auth["sessionId"]
        restored = session in store
        async for raw in ws:
            if raw == "3":
                seen.setdefault("pongs", []).append(raw)
                continue
            event, *args = json.loads(raw[2:])
            if event == "connection_successful":
                await ws.send(emit("task_end"))
                if not restored:  # on_chat_start: a run step and a second task_end
                    await ws.send(emit("task_start"))
                    await ws.send(emit("new_message", {"type": "run", "output": ""}))
                    await ws.send(emit("task_end"))
            elif event == "client_message":
                text = args[0]["message"]["output"]
                await ws.send(emit("task_start"))
                await ws.send(emit("new_message", {"type": "user_message", "output": text}))
                await ws.send(emit("stream_token", {"token": "I "}))
                await ws.send(emit("new_message", {"type": "assistant_message",
                                                   "output": keyed_memory(store, session, text)}))
                await ws.send(emit("task_end"))

    return handler


def test_chainlit_preset_reconnects_with_the_same_session_id_and_answers_pings():
    store, seen = {}, {}
    with scripted_server(chainlit_like(store, seen)) as url:
        run = probe(url, preset="chainlit", sessions=2, turns=3)
    records = run.transcript.records
    assert all(record.ok for record in records)
    assert run.verdict.recall.rate == 1.0  # one process keeps the session: restored on reconnect
    assert len(seen["pongs"]) == len(seen["auth"])  # every connection answered its ping
    assert all(query.startswith("/ws/socket.io/?") and "EIO=4" in query and "transport=websocket" in query
               for query in seen["queries"])
    assert {auth["clientType"] for auth in seen["auth"]} == {"webapp"}
    assert len({auth["sessionId"] for auth in seen["auth"]}) == 2
    assert all(record.ws["ended_by"] == "until:event=task_end" for record in records)
    assert len(store) == 2


def test_missing_connect_answer_is_a_bounded_error():
    store, seen = {}, {}
    with scripted_server(chainlit_like(store, seen)) as url:
        with pytest.raises(UserError) as raised:
            probe(url, preset="chainlit", auth='{"clientType": "webapp"}', timeout=0.5, sessions=1, turns=2)
    assert "no answer to the Socket.IO CONNECT within 0.5s" in str(raised.value)


def test_refused_connect_is_named():
    async def refuse(ws):
        await ws.send(OPEN)
        await ws.recv()
        await ws.send('44{"message":"authentication required"}')
        await asyncio.sleep(1)

    with scripted_server(refuse) as url:
        with pytest.raises(UserError) as raised:
            probe(url, preset="chainlit", sessions=1, turns=2)
    assert "Socket.IO CONNECT refused: authentication required" in str(raised.value)


def test_an_ack_request_fails_the_turn():
    async def asks_through_ack(ws):
        await ws.send(OPEN)
        await ws.recv()
        await ws.send('40{"sid":"x"}')
        async for raw in ws:
            if "client_message" in raw:
                await ws.send('427["ask", {"spec": {"type": "text"}}]')
            else:
                await ws.send(emit("task_end"))

    with scripted_server(asks_through_ack) as url:
        with pytest.raises(UserError) as raised:
            probe(url, preset="chainlit", sessions=1, turns=2)
    assert "asked for input through a Socket.IO ack (event ask)" in str(raised.value)


def test_a_plain_websocket_is_not_mistaken_for_socketio():
    async def plain(ws):
        await ws.send("hello")
        await asyncio.sleep(1)

    with scripted_server(plain) as url:
        with pytest.raises(UserError) as raised:
            probe(url, preset="chainlit", sessions=1, turns=2)
    assert "not a Socket.IO endpoint" in str(raised.value)
