"""Our own FastAgency workflow for the real-target suite, served by FastAgency's FastAPI adapter.

FastAgency's documented example asks the user once; a memory check needs many turns, so this
workflow loops: ask with `ui.text_input`, hand the answer to an AG2 `ConversableAgent`, send its
reply with `ui.text_message`. The agent has no LLM (`llm_config=False`): a registered reply
function (examples/classic_codeword.py) stands in for the model and lists every codeword in the
agent's history. The agent lives in the workflow's thread, which lives as long as the WebSocket:
the conversation belongs to the connection, as in every FastAgency app.

Serve it with `uvicorn fastagency_app:app --workers N` (PYTHONPATH holding this folder and examples/).
"""

from typing import Any

from autogen import ConversableAgent
from classic_codeword import codeword_reply
from fastagency import UI
from fastagency.adapters.fastapi import FastAPIAdapter
from fastagency.runtimes.ag2 import Workflow
from fastapi import FastAPI

workflows = Workflow()


@workflows.register(name="codeword_chat", description="Answers with every codeword it was told")
def codeword_chat(ui: UI, params: dict[str, Any]) -> str:
    assistant = ConversableAgent("assistant", llm_config=False, human_input_mode="NEVER")
    assistant.register_reply([ConversableAgent, None], codeword_reply)
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    while True:
        message = ui.text_input(sender="assistant", recipient="user", prompt="What should I remember?")
        if not message or message.strip() == "exit":
            return "bye"
        user.send(message, assistant, request_reply=False, silent=True)
        reply = assistant.generate_reply(sender=user)
        assistant.send(reply, user, request_reply=False, silent=True)
        ui.text_message(sender="assistant", recipient="user", body=str(reply))


app = FastAPI()
app.include_router(FastAPIAdapter(provider=workflows).router)
