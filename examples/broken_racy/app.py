"""BROKEN: agent state in Redis, read and written back with no version check (a lost update).

Every turn restores the session's state (`load_state`) and saves it after (`save_state`), so
any worker can serve any turn. But two turns of one session that overlap (a double-click, a
retry, two tabs) both load the same state, and the later `SET` overwrites the earlier turn's
messages. `autogen-doctor scan` reports AD5xx here; `autogen-doctor probe --concurrent-turns`
reports state-loss (lost-update). The fix: examples/fixed_redis (a version check on save).
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

api = FastAPI(title="broken_racy")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient(latency_s=0.3)  # a model call takes time, as a real one does
states = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


class ChatRequest(BaseModel):
    session_id: str
    message: str


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str]:
    key = f"agent-state:{request.session_id}"
    agent = AssistantAgent("assistant", model_client=model)
    saved = await states.get(key)
    if saved:
        await agent.load_state(json.loads(saved))
    result = await agent.run(task=request.message)
    await states.set(key, json.dumps(await agent.save_state()), ex=86400)  # last writer wins: the bug
    return {"reply": result.messages[-1].to_text(), "session_id": request.session_id}
