"""Our own small Chainlit app for the real-target suite (not a copy of any sample).

It keeps one AgentChat `AssistantAgent` per chat in `cl.user_session`, the way Chainlit apps do:
`on_chat_start` builds the agent, `on_message` runs it. `cl.user_session` is a dict inside the
`chainlit run` process, so the conversation lives in that process only. The model is the
project's offline codeword client, a stand-in for an LLM (none can run in tests): it answers
with every codeword it can see in the agent's history.
"""

import chainlit as cl
from autogen_agentchat.agents import AssistantAgent
from codeword_model import CodewordChatCompletionClient


@cl.on_chat_start
async def build_agent() -> None:
    agent = AssistantAgent("assistant", model_client=CodewordChatCompletionClient(),
                           system_message="Remember what the user tells you.")
    cl.user_session.set("agent", agent)


@cl.on_message
async def answer(message: cl.Message) -> None:
    agent: AssistantAgent = cl.user_session.get("agent")
    result = await agent.run(task=message.content)
    await cl.Message(content=str(result.messages[-1].content), author="assistant").send()
