"""BROKEN: each session's agent lives in a module-level dict, so only one worker remembers it.

Run with one worker and every turn is remembered. Run with `--workers 4` (or two pods) and a
turn that lands on another process meets a brand-new agent: the conversation is gone.
`autogen-doctor scan` reports AD1xx here; `autogen-doctor probe` reports
state-loss (process-local-state). The fix: examples/fixed_redis.
"""

import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="broken_inproc")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()
sessions: dict[str, AssistantAgent] = {}  # one dict per worker process: the bug


class ChatRequest(BaseModel):
    session_id: str
    message: str


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str]:
    agent = sessions.get(request.session_id)
    if agent is None:
        agent = AssistantAgent("assistant", model_client=model)
        sessions[request.session_id] = agent
    result = await agent.run(task=request.message)
    return {"reply": result.messages[-1].to_text(), "session_id": request.session_id}
