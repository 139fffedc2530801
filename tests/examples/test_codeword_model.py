"""The examples' offline model: lists the codewords it can see, as a real AutoGen model client."""

import asyncio

from autogen_agentchat.agents import AssistantAgent
from autogen_core.models import AssistantMessage, ChatCompletionClient, CreateResult, SystemMessage, UserMessage
from classic_codeword import codeword_reply
from codeword_model import CodewordChatCompletionClient
from codewords import codewords_in


def test_codewords_are_listed_once_in_order_of_first_appearance():
    texts = ["keep ADR-bbbb-2222 and adr-aaaa-1111", "again adr-bbbb-2222, then adr-cccc-3333."]
    assert codewords_in(texts) == ["adr-bbbb-2222", "adr-aaaa-1111", "adr-cccc-3333"]
    assert codewords_in(["no codeword here, nor in adrenaline"]) == []


def test_create_answers_from_every_message_in_its_context():
    model = CodewordChatCompletionClient()
    messages = [
        SystemMessage(content="You are helpful."),
        UserMessage(content="Remember adr-aaaa-1111.", source="user"),
        AssistantMessage(content="Noted.", source="assistant"),
        UserMessage(content="Remember adr-bbbb-2222.", source="user"),
    ]
    result = asyncio.run(model.create(messages))
    assert isinstance(result, CreateResult)
    assert result.content == "The codewords you have given me so far: adr-aaaa-1111, adr-bbbb-2222."
    assert result.usage.prompt_tokens == model.count_tokens(messages) > 0
    assert model.total_usage().completion_tokens == result.usage.completion_tokens
    no_words = asyncio.run(model.create([UserMessage(content="hello", source="user")]))
    assert "not given me any codeword" in no_words.content


def test_stream_yields_the_same_answer_in_chunks_then_the_result():
    model = CodewordChatCompletionClient()
    messages = [UserMessage(content="Remember adr-aaaa-1111 and adr-bbbb-2222.", source="user")]

    async def collect():
        return [chunk async for chunk in model.create_stream(messages)]

    chunks = asyncio.run(collect())
    assert isinstance(chunks[-1], CreateResult)
    assert "".join(chunks[:-1]) == chunks[-1].content
    assert len(chunks) > 2


def test_model_is_a_loadable_component():
    model = CodewordChatCompletionClient(context_window=1000)
    loaded = ChatCompletionClient.load_component(model.dump_component())
    assert isinstance(loaded, CodewordChatCompletionClient)
    assert loaded.remaining_tokens([UserMessage(content="one two three", source="user")]) == 997


def test_assistant_agent_remembers_within_one_object_and_forgets_in_a_new_one():
    model = CodewordChatCompletionClient()

    async def scenario():
        agent = AssistantAgent("assistant", model_client=model)
        await agent.run(task="Remember adr-aaaa-1111.")
        same = await agent.run(task="Remember adr-bbbb-2222.")
        fresh = await AssistantAgent("assistant", model_client=model).run(task="Remember adr-bbbb-2222.")
        return same.messages[-1].to_text(), fresh.messages[-1].to_text()

    same, fresh = asyncio.run(scenario())
    assert "adr-aaaa-1111" in same and "adr-bbbb-2222" in same
    assert "adr-aaaa-1111" not in fresh and "adr-bbbb-2222" in fresh


def test_classic_reply_function_answers_from_the_given_messages():
    final, reply = codeword_reply(None, messages=[{"content": "adr-aaaa-1111", "role": "user"},
                                                  {"content": None, "role": "assistant"}])
    assert final is True and "adr-aaaa-1111" in reply
