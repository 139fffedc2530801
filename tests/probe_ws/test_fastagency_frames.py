"""The `fastagency` preset against FastAgency 0.10.2's own frames, as captured from its running
FastAPI adapter (tests/real_targets/test_fastagency.py runs the real thing; shared WEBSOCKET.md
open point 10.2): `workflow_started` before the first `text_input`, IOMessage JSON with the
workflow's uuid in hex, answers as raw text.

And the other way FastAgency's docs write workflows, `ui.process(agent.run(...))`: the FastAPI
adapter cannot forward AG2's run events (`'TextEvent' object has no attribute 'workflow_uuid'`
in the server log, the event dropped) and never answers AG2's input request, so after the user's
first answer the socket stays silent. The probe must say that the service sent nothing."""

from __future__ import annotations

import asyncio
import http
import json
import uuid

import pytest

from autogen_doctor.exit_codes import UserError
from ws_scripts import CODEWORD
from ws_support import probe, scripted_server

WORKFLOW = "codeword_chat"


def _discovery(connection, request):
    """The adapter's HTTP side: the preset reads the workflow name from /fastagency/discovery."""
    if request.path == "/fastagency/discovery":
        body = json.dumps([{"name": WORKFLOW, "description": "Answers with every codeword it was told"}])
        return connection.respond(http.HTTPStatus.OK, body)
    return None


def _io(workflow: str, sender: str, recipient: str, kind: str, content: dict) -> str:
    # Field order and values as fastagency 0.10.2 sends them (IOMessage.model_dump()).
    return json.dumps({"workflow_uuid": workflow, "sender": sender, "recipient": recipient, "auto_reply": False,
                       "uuid": uuid.uuid4().hex, "content": content, "type": kind})


async def _start(ws) -> str:
    start = json.loads(await ws.recv())
    assert start["name"] == WORKFLOW, start
    workflow = uuid.UUID(start["workflow_uuid"]).hex  # the adapter refuses anything but a UUID
    await ws.send(_io(workflow, "Workflow", "User", "workflow_started",
                      {"name": WORKFLOW, "description": "Answers with every codeword it was told", "params": {}}))
    return workflow


def _ask(workflow: str) -> str:
    return _io(workflow, "assistant", "user", "text_input",
               {"prompt": "What should I remember?", "suggestions": [], "password": False})


async def text_input_workflow(ws) -> None:
    """A `ui.text_input` loop: memory lives in the workflow, i.e. in this connection."""
    workflow = await _start(ws)
    words: list[str] = []
    while True:
        await ws.send(_ask(workflow))
        words += CODEWORD.findall(await ws.recv())
        await ws.send(_io(workflow, "assistant", "user", "text_message",
                          {"body": "The codewords you have given me so far: " + ", ".join(words) + "."}))


async def process_workflow(ws) -> None:
    """`ui.process(...)` on the FastAPI adapter: one text_input, then nothing ever again."""
    workflow = await _start(ws)
    await ws.send(_ask(workflow))
    await ws.recv()
    await asyncio.sleep(30)


def test_real_fastagency_frames_read_as_the_preset_expects():
    with scripted_server(text_input_workflow, pid=None, process_request=_discovery) as url:
        held = probe(url + "/fastagency/ws", preset="fastagency", connection="session", sessions=2, turns=3)
        per_turn = probe(url + "/fastagency/ws", preset="fastagency", sessions=2, turns=3)
    assert held.verdict.verdict == "inconclusive" and held.verdict.recall.rate == 1.0
    assert all(record.ws["ended_by"] == "until:type=text_input" for record in held.transcript.records)
    assert per_turn.verdict.cause == "not-rehydrated"
    first = per_turn.transcript.records[0]
    # The start frame named the discovered workflow; workflow_started was read, not taken as a reply.
    assert WORKFLOW in first.ws["frames"][0]["text"]
    assert first.reply_text.startswith("The codewords you have given me so far")


def test_a_workflow_that_goes_silent_after_the_answer_is_named_silent():
    with scripted_server(process_workflow, pid=None, process_request=_discovery) as url:
        with pytest.raises(UserError) as raised:
            probe(url + "/fastagency/ws", preset="fastagency", sessions=1, turns=2, timeout=0.5)
    message = str(raised.value)
    assert "no end of turn within 0.5s (timed out)" in message
    assert "the service sent nothing after the message" in message
