"""BROKEN: a RoundRobinGroupChat built afresh on every POST, so the team never remembers.

The usual "group chat over HTTP starts over every message" bug: the team is rebuilt per request
(the same participants, the same configuration) but nothing of the session's earlier turns is
loaded into it. `autogen-doctor scan` reports AD2xx here; `autogen-doctor probe` reports
state-loss (not-rehydrated). The fix: examples/fixed_team.
"""

import sys
from pathlib import Path

# The offline model lives in examples/, one level up; `--app-dir` puts only this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from autogen_agentchat.teams import RoundRobinGroupChat  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

api = FastAPI(title="broken_team")
api.add_middleware(BackendIdentityMiddleware)

model = CodewordChatCompletionClient()


class ChatRequest(BaseModel):
    session_id: str
    message: str


@api.get("/")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
async def chat(request: ChatRequest) -> dict[str, str]:
    team = RoundRobinGroupChat(  # a new, empty team for every message: the bug
        [AssistantAgent("researcher", model_client=model), AssistantAgent("writer", model_client=model)],
        max_turns=2,
    )
    result = await team.run(task=request.message)
    return {"reply": result.messages[-1].to_text(), "session_id": request.session_id}
