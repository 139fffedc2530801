"""FIXED: the WebSocket chat of examples/broken_ws with each turn's state in Redis.

Every message loads the session's `save_state()` record from Redis into a fresh agent, runs,
and saves it back with a version check (`RedisStateStore.run_turn`), so a reconnect to any
worker or pod picks the conversation up. `autogen-doctor probe ws://127.0.0.1:8000/ws/{session}
--preset agentchat-team` passes with any number of workers.
"""

import os
import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from autogen_doctor.persist import RedisStateStore  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="fixed_ws")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
store = RedisStateStore.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), ttl_seconds=86400)


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=model)


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.websocket("/ws/{session_id}")
async def chat(websocket: WebSocket, session_id: str) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive_json()
            text = str(message.get("content", ""))
            await websocket.send_json({"source": "user", "content": text, "type": "TextMessage"})
            try:
                result = await store.run_turn(session_id, build_agent, lambda agent: agent.run(task=text))
            except Exception as error:  # an error frame, then ask for input again, as app_team does
                await websocket.send_json({"type": "error", "content": f"Error: {error}", "source": "system"})
            else:
                await websocket.send_json({"source": "assistant", "content": result.messages[-1].to_text(),
                                           "type": "TextMessage"})
            await websocket.send_json({"source": "user", "content": "", "type": "UserInputRequestedEvent"})
    except WebSocketDisconnect:
        return
