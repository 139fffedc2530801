"""The `fastagency` and `ag2-iostream` presets against scripted doubles of their wire protocols
(shared WEBSOCKET.md sections 4 and 6): FastAgency's discovery call, start frame, text_input
prompts and raw-text answers; AG2 IOWebsockets' printed text frames and input prompts."""

import textwrap

import pytest

from support.services import uvicorn_service
from ws_scripts import CODEWORD, recall_line
from ws_support import probe, scripted_server

FASTAGENCY_DOUBLE = textwrap.dedent('''
    import re, uuid
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    api = FastAPI()
    CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")

    @api.get("/fastagency/discovery")
    async def discovery():
        return [{"name": "simple_learning", "description": "a loop of text_input"}]

    def io(kind, content):
        return {"workflow_uuid": "w", "sender": "workflow", "recipient": "user", "auto_reply": False,
                "uuid": uuid.uuid4().hex, "type": kind, "content": content}

    @api.websocket("/fastagency/ws")
    async def workflow(websocket: WebSocket):
        await websocket.accept()
        start = await websocket.receive_json()
        if start.get("name") != "simple_learning":
            await websocket.send_json(io("error", {"short": "unknown workflow", "long": str(start)}))
            await websocket.close()
            return
        words = []  # the workflow's locals: memory per connection
        try:
            while True:
                await websocket.send_json(io("text_input", {"prompt": "What next?", "suggestions": []}))
                answer = await websocket.receive_text()
                words += CODEWORD.findall(answer)
                await websocket.send_json(io("text_message", {"body": "I remember: " + ", ".join(words)}))
        except WebSocketDisconnect:
            pass
''')


@pytest.mark.services
def test_fastagency_preset_discovers_the_workflow_and_answers_text_input(tmp_path):
    (tmp_path / "fastagency_double.py").write_text(FASTAGENCY_DOUBLE)
    with uvicorn_service("fastagency_double:api", app_dir=tmp_path, ready_path="/fastagency/discovery") as service:
        base = service.url.replace("http://", "ws://")
        per_turn = probe(base, preset="fastagency", sessions=2, turns=3)
        held = probe(base, preset="fastagency", sessions=2, turns=3, connection="session")
    assert per_turn.verdict.cause == "not-rehydrated"
    assert all(record.ws["ended_by"] == "until:type=text_input" for record in held.transcript.records)
    assert held.verdict.recall.rate == 1.0 and held.verdict.verdict == "inconclusive"
    # The answer went out as raw text, not JSON.
    first = per_turn.transcript.records[0]
    assert first.request["body"].startswith("Remember this codeword")


def test_ag2_iostream_preset_reads_printed_text_until_the_input_prompt():
    prompt = ("Replying as user_proxy. Provide feedback to assistant. Press enter to skip and use auto-reply, "
              "or type 'exit' to end the conversation: ")

    async def iostream(ws):
        words = CODEWORD.findall(await ws.recv())  # on_connect: iostream.input() takes the task
        while True:
            await ws.send("user_proxy (to assistant):\n")
            await ws.send("assistant (to user_proxy):\n")
            await ws.send(recall_line(words) + "\n")
            await ws.send("-" * 40 + "\n")
            await ws.send(prompt)
            words += CODEWORD.findall(await ws.recv())

    with scripted_server(iostream, pid=None) as url:
        held = probe(url, preset="ag2-iostream", connection="session", sessions=2, turns=3)
        per_turn = probe(url, preset="ag2-iostream", sessions=2, turns=3)
    assert held.verdict.recall.rate == 1.0 and held.verdict.verdict == "inconclusive"
    assert all("Press enter to skip" in record.ws["ended_by"] for record in held.transcript.records)
    assert "I remember:" in held.transcript.records[1].reply_text
    assert per_turn.verdict.cause == "not-rehydrated"
