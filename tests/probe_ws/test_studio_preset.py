"""The `studio` preset against a scripted AutoGen Studio double under uvicorn: the HTTP set-up
(team, session, run per connection), the run URL, the start frame with the team config, the
`system` ready frame, and replies chosen among echoes and llm_call_event prompt dumps
(frame shapes from AutoGen Studio 0.4.2.2 as run offline)."""

import textwrap

import pytest

from support.services import uvicorn_service
from ws_support import probe

pytestmark = pytest.mark.services

STUDIO_DOUBLE = textwrap.dedent('''
    import re
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    api = FastAPI()
    TEAM = {"provider": "autogen_agentchat.teams.RoundRobinGroupChat", "config": {"prompt": "{roles}"}}
    runs, sessions, starts = {}, {}, []
    CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")

    @api.get("/api/version")
    async def version():
        return {"status": True}

    @api.get("/api/teams/")
    async def teams(user_id: str):
        return {"status": True, "data": [{"id": 1, "user_id": user_id, "component": TEAM}]}

    @api.post("/api/sessions/")
    async def new_session(body: dict):
        sessions[len(sessions) + 1] = body
        return {"status": True, "data": {"id": len(sessions)}}

    @api.post("/api/runs/")
    async def new_run(body: dict):
        run_id = len(runs) + 1
        runs[run_id] = {"session": body["session_id"], "status": "created"}
        return {"status": True, "data": {"run_id": run_id}}

    @api.get("/starts")
    async def seen_starts():
        return starts

    def message(source, content, usage=None):
        return {"type": "message", "data": {"source": source, "type": "TextMessage", "content": content,
                                            "models_usage": usage}}

    @api.websocket("/api/ws/runs/{run_id}")
    async def run_socket(websocket: WebSocket, run_id: int):
        if run_id not in runs or runs[run_id]["status"] != "created":
            await websocket.close(code=4004, reason="Run not found")
            return
        runs[run_id]["status"] = "active"
        await websocket.accept()
        await websocket.send_json({"type": "system", "status": "connected"})
        words = []  # the team lives in this run: memory per connection, as in Studio
        try:
            while True:
                frame = await websocket.receive_json()
                if frame["type"] == "start":
                    starts.append(frame["team_config"])
                    text = frame["task"]
                    await websocket.send_json(message("user", text))
                elif frame["type"] == "input_response":
                    text = frame["response"]
                    await websocket.send_json(message("user_proxy", text))
                elif frame["type"] == "stop":
                    await websocket.send_json({"type": "completion", "status": "cancelled"})
                    break
                else:
                    continue
                words += CODEWORD.findall(text)
                # The prompt dump holds every codeword the model saw: never a reply.
                await websocket.send_json(message("llm_call_event", "messages: " + text))
                await websocket.send_json(message("assistant", "I remember: " + ", ".join(words), {"tokens": 1}))
                await websocket.send_json({"type": "input_request", "prompt": "Enter your response: "})
        except WebSocketDisconnect:
            pass
        runs[run_id]["status"] = "stopped"
''')


def test_studio_preset_sets_up_runs_and_reads_only_model_replies(tmp_path):
    import httpx

    (tmp_path / "studio_double.py").write_text(STUDIO_DOUBLE)
    with uvicorn_service("studio_double:api", app_dir=tmp_path, ready_path="/api/version") as service:
        base = service.url.replace("http://", "ws://")
        per_turn = probe(base, preset="studio", sessions=2, turns=3)
        held = probe(base, preset="studio", sessions=2, turns=3, connection="session")
        starts = httpx.get(service.url + "/starts").json()
    assert per_turn.verdict.cause == "not-rehydrated"
    assert "tied to the WebSocket connection" in per_turn.verdict.reason
    assert all(record.reply_text.startswith("I remember: ") for record in per_turn.transcript.records)
    assert per_turn.transcript.records[0].request["url"].startswith(base + "/api/ws/runs/")
    assert held.verdict.recall.rate == 1.0 and held.verdict.verdict == "inconclusive"
    # The team config went into the start frame as JSON, its literal {roles} untouched.
    assert starts and all(start["config"]["prompt"] == "{roles}" for start in starts)
