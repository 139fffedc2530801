"""FIXED: a RoundRobinGroupChat whose state (every participant and the manager) lives in Redis.

The team is still built per request, but the fix kit restores the session's team state into it
before the run (`load_state`) and saves it after (`save_state`), with a version check so two
overlapping turns of one session cannot overwrite each other. `autogen-doctor scan` finds
nothing here; `autogen-doctor probe` passes with any number of workers.
"""

import os
import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from autogen_agentchat.teams import RoundRobinGroupChat  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from autogen_doctor.persist import ConcurrentTurnError, RedisStateStore  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="fixed_team")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
store = RedisStateStore.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), ttl_seconds=86400, prefix="fixed_team:"
)


class ChatRequest(BaseModel):
    session_id: str
    message: str


def build_team() -> RoundRobinGroupChat:
    return RoundRobinGroupChat(
        [AssistantAgent("researcher", model_client=model), AssistantAgent("writer", model_client=model)],
        max_turns=2,
    )


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str]:
    try:
        result = await store.run_turn(request.session_id, build_team, lambda team: team.run(task=request.message))
    except ConcurrentTurnError as error:  # still colliding after the retries: let the client retry
        raise HTTPException(status_code=503, detail=str(error), headers={"Retry-After": "1"}) from error
    return {"reply": result.messages[-1].to_text(), "session_id": request.session_id}
