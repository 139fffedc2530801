"""FIXED (classic `autogen` API): the transcript lives in Redis and is restored into fresh agents.

Each request builds the agent pair anew and hands the stored messages to the assistant
(`chat_messages={user: earlier}`), so the reply sees the whole conversation; the new messages
are appended with the fix kit's `RedisHistoryStore` (one atomic RPUSH), so overlapping turns
both land. `autogen-doctor scan` finds nothing here; `autogen-doctor probe` passes.
Covered: pyautogen 0.9 (AG2 0.9, `import autogen`); the offline reply function replaces the LLM.
"""

import os
import sys
from pathlib import Path

# The offline reply function lives in examples/, one level up; `--app-dir` adds only this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autogen import ConversableAgent  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from autogen_doctor.middleware import BackendIdentityMiddleware  # noqa: E402
from autogen_doctor.persist import RedisHistoryStore  # noqa: E402
from classic_codeword import codeword_reply  # noqa: E402

api = FastAPI(title="fixed_classic")
api.add_middleware(BackendIdentityMiddleware)

history = RedisHistoryStore.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), ttl_seconds=86400, prefix="fixed_classic:"
)


class ChatRequest(BaseModel):
    session_id: str
    message: str


@api.get("/")
def health() -> dict[str, str]:
    return {"status": "ok"}


@api.post("/chat")
def chat(request: ChatRequest) -> dict[str, str]:
    earlier = history.read(request.session_id)
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", code_execution_config=False)
    assistant = ConversableAgent(
        "assistant", llm_config=False, human_input_mode="NEVER", chat_messages={user: list(earlier)}
    )
    assistant.register_reply([ConversableAgent, None], codeword_reply)
    user.initiate_chat(assistant, message=request.message, max_turns=1, clear_history=False, silent=True)
    history.append(request.session_id, *assistant.chat_messages[user][len(earlier):])
    return {"reply": str(user.last_message(assistant)["content"]), "session_id": request.session_id}
