"""AD205: AgentChat messages dumped to JSON with `model_dump()` raise on `created_at`.

The premise is checked against the installed autogen-agentchat first, so the rule's claim is
tested, not assumed."""

import json

import pytest


def found(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


def test_premise_model_dump_of_an_agentchat_message_is_not_json():
    messages = pytest.importorskip("autogen_agentchat.messages")
    message = messages.TextMessage(content="x", source="user")
    with pytest.raises(TypeError):
        json.dumps(message.model_dump())
    assert json.loads(json.dumps(message.model_dump(mode="json")))["content"] == "x"
    assert json.loads(json.dumps(message.dump()))["content"] == "x"


SERVICE = """
    import json
    from fastapi import FastAPI, WebSocket
    from autogen_agentchat.messages import TextMessage
    app = FastAPI()

    @app.post("/chat")
    async def chat(request: TextMessage):
        response = await agent.on_messages([request], None)
        history = []
        history.append(request.model_dump())
        history.append(response.chat_message.model_dump())
        with open("history.json", "w") as f:
            f.write(json.dumps(history))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        data = await websocket.receive_json()
        request = TextMessage.model_validate(data)
        async for message in team.run_stream(task=request):
            await websocket.send_json(message.model_dump())
"""


def test_ad205_direct_and_through_a_collected_list(scan_tree):
    result = scan_tree({"app.py": SERVICE}, codes="AD205")
    assert found(result) == [("AD205", "app.py", 13), ("AD205", "app.py", 20)]
    first = result.findings[0]
    assert "`history`" in first.message and 'model_dump(mode="json")' in first.fix
    assert [step.line for step in first.trace][-2:] == [10, 13]


def test_ad205_silent_on_json_safe_dumps_and_non_agentchat_models(scan_tree):
    safe = (SERVICE.replace("request.model_dump()", 'request.model_dump(mode="json")')
            .replace("response.chat_message.model_dump()", "response.chat_message.dump()")
            .replace("send_json(message.model_dump())", "send_json(jsonable_encoder(message.model_dump()))"))
    assert found(scan_tree({"app.py": safe}, codes="AD205")) == []
    encoder = SERVICE.replace("json.dumps(history)", "json.dumps(history, default=str)").replace(
        "send_json(message.model_dump())", 'send_json(message.model_dump(mode="json"))')
    assert found(scan_tree({"app.py": encoder}, codes="AD205")) == []
    own_model = """
        import json
        from pydantic import BaseModel
        from autogen_agentchat.agents import AssistantAgent

        class Note(BaseModel):
            text: str

        def save(note: Note, path):
            with open(path, "w") as f:
                f.write(json.dumps(note.model_dump()))
    """
    assert found(scan_tree({"app.py": own_model}, codes="AD205")) == []
