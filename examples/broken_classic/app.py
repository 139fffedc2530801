"""BROKEN (classic `autogen` API): each session's ConversableAgent pair lives in a module-level dict.

The classic API keeps a conversation inside the agents (`chat_messages`, keyed by the peer
agent). Kept in a module-level dict, that history exists in one worker only: another worker
starts the session over. `autogen-doctor scan` reports AD1xx here; `autogen-doctor probe`
reports state-loss (process-local-state). The fix: examples/fixed_classic.
Covered: pyautogen 0.9 (AG2 0.9, `import autogen`); the offline reply function replaces the LLM.
"""

import sys
from pathlib import Path

# The offline reply function lives in examples/, one level up; `--app-dir` adds only this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen import ConversableAgent  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from classic_codeword import codeword_reply  # noqa: E402

api = FastAPI(title="broken_classic")
api.add_middleware(BackendIdentityMiddleware)

sessions: dict[str, tuple[ConversableAgent, ConversableAgent]] = {}  # one dict per worker: the bug


class ChatRequest(BaseModel):
    session_id: str
    message: str


def agents_for(session_id: str) -> tuple[ConversableAgent, ConversableAgent]:
    if session_id not in sessions:
        user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
        assistant = ConversableAgent("assistant", llm_config=False, human_input_mode="NEVER")
        assistant.register_reply([ConversableAgent, None], codeword_reply)
        sessions[session_id] = (user, assistant)
    return sessions[session_id]


@api.get("/")
def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
def chat(request: ChatRequest) -> dict[str, str]:
    user, assistant = agents_for(request.session_id)
    user.initiate_chat(assistant, message=request.message, max_turns=1, clear_history=False, silent=True)
    return {"reply": str(user.last_message(assistant)["content"]), "session_id": request.session_id}
