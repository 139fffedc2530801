"""BROKEN: a WebSocket chat whose agents live in a module-level dict keyed by the session id in the URL.

The common derivative of AutoGen's `agentchat_fastapi/app_team.py`: `/ws/{session_id}` speaks the
same frames (`{"content", "source"}` in; the echo, the agent's `TextMessage`, then
`UserInputRequestedEvent` out) and looks the session's agent up in a dict. One worker: every
reconnect finds the agent again. `--workers 4`: a reconnect that the kernel hands to another
worker meets a new, empty agent. `autogen-doctor probe ws://127.0.0.1:8000/ws/{session}
--preset agentchat-team` reports state-loss (process-local-state). The fix: examples/fixed_ws.
"""

import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="broken_ws")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
sessions: dict[str, AssistantAgent] = {}  # one dict per worker process: the bug


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.websocket("/ws/{session_id}")
async def chat(websocket: WebSocket, session_id: str) -> None:
    await websocket.accept()
    agent = sessions.setdefault(session_id, AssistantAgent("assistant", model_client=model))
    try:
        while True:
            message = await websocket.receive_json()
            text = str(message.get("content", ""))
            await websocket.send_json({"source": "user", "content": text, "type": "TextMessage"})
            try:
                result = await agent.run(task=text)
            except Exception as error:  # as app_team does: an error frame, then ask for input again
                await websocket.send_json({"type": "error", "content": f"Error: {error}", "source": "system"})
            else:
                await websocket.send_json({"source": "assistant", "content": result.messages[-1].to_text(),
                                           "type": "TextMessage"})
            await websocket.send_json({"source": "user", "content": "", "type": "UserInputRequestedEvent"})
    except WebSocketDisconnect:
        return
