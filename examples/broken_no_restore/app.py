"""BROKEN: the transcript is saved to Redis, but every request builds a fresh agent without it.

Every worker can reach the saved history, yet no turn ever reads it back: the agent answers
from the current message alone, even with a single worker. `autogen-doctor scan` reports AD2xx
here; `autogen-doctor probe` reports state-loss (not-rehydrated). The fix: examples/fixed_redis.
"""

import json
import os
import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as redis  # noqa: E402
from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="broken_no_restore")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
history = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


class ChatRequest(BaseModel):
    session_id: str
    message: str


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str | int]:
    agent = AssistantAgent("assistant", model_client=model)  # starts empty: the bug
    result = await agent.run(task=request.message)
    reply = result.messages[-1].to_text()
    key = f"chat:{request.session_id}"
    length = await history.rpush(
        key,
        json.dumps({"role": "user", "content": request.message}),
        json.dumps({"role": "assistant", "content": reply}),
    )
    await history.expire(key, 86400)
    return {"reply": reply, "session_id": request.session_id, "stored_messages": length}
