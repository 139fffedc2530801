"""FIXED: the agent is rebuilt per request and its state restored from Redis with the fix kit.

Every turn loads the session's `save_state()` record from Redis into a fresh agent
(`load_state`), runs, and saves the new state with a version check: when two turns of one session
overlap, the later save is refused and the turn re-runs on the fresh state, so no turn overwrites
another. Any worker, any pod, any restart: the conversation is there. `autogen-doctor scan`
finds nothing here; `autogen-doctor probe` passes with any number of workers.
"""

import os
import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from autogen_doctor.persist import ConcurrentTurnError, RedisStateStore  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="fixed_redis")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
store = RedisStateStore.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), ttl_seconds=86400)


class ChatRequest(BaseModel):
    session_id: str
    message: str


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=model)


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str]:
    try:
        result = await store.run_turn(request.session_id, build_agent, lambda agent: agent.run(task=request.message))
    except ConcurrentTurnError as error:  # still colliding after the retries: let the client retry
        raise HTTPException(status_code=503, detail=str(error), headers={"Retry-After": "1"}) from error
    return {"reply": result.messages[-1].to_text(), "session_id": request.session_id}
