"""The fixed twin of chainlit_app.py: the agent's state lives in Redis, not in `cl.user_session`.

Every message builds a fresh agent, restores the session's state from Redis, runs, and saves it
back (the project's fix kit, `autogen_doctor.persist.RedisStateStore`). The key is
`cl.context.session.id`, the `sessionId` the client sends on every (re)connect, so whichever pod
a reconnect reaches finds the conversation. The model is the offline codeword client (a stand-in
for an LLM, which cannot run in tests).
"""

import os

import chainlit as cl
from autogen_agentchat.agents import AssistantAgent
from codeword_model import CodewordChatCompletionClient

from autogen_doctor.persist import RedisStateStore

store = RedisStateStore.from_url(os.environ["REDIS_URL"], ttl_seconds=3600)


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=CodewordChatCompletionClient(),
                          system_message="Remember what the user tells you.")


@cl.on_message
async def answer(message: cl.Message) -> None:
    async with store.session(cl.context.session.id, build_agent()) as agent:
        result = await agent.run(task=message.content)
    await cl.Message(content=str(result.messages[-1].content), author="assistant").send()
