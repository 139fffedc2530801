"""Request paths without a framework decorator: functions taking a conversation key, the
article's two handlers, script-folder imports and dispatch tables; clean twins stay silent."""

ARTICLE_FIRST = """
    from autogen import AssistantAgent, UserProxyAgent

    session_memory = {}

    def handle_request(session_id: str, message: str):
        if session_id not in session_memory:
            assistant = AssistantAgent(name="assistant", llm_config={"model": "gpt-4o"})
            user_proxy = UserProxyAgent(name="user_proxy")
            session_memory[session_id] = {"assistant": assistant, "user_proxy": user_proxy, "messages": []}
        state = session_memory[session_id]
        state["messages"].append({"role": "user", "content": message})
        return state["user_proxy"].initiate_chat(state["assistant"], message=message)
"""

ARTICLE_STORE = """
    import json
    import redis

    r = redis.Redis.from_url("redis://localhost:6379/0")

    def load_messages(session_id):
        raw = r.get(f"chat:{session_id}")
        return json.loads(raw) if raw else []

    def save_message(session_id, message):
        raw = r.get(f"chat:{session_id}")
        history = json.loads(raw) if raw else []
        history.append(message)
        r.set(f"chat:{session_id}", json.dumps(history))
"""

ARTICLE_FIXED = """
    from autogen import AssistantAgent, UserProxyAgent
    from store import load_messages, save_message

    def handle_request(session_id: str, message: str):
        history = load_messages(session_id)
        assistant = AssistantAgent(name="assistant", llm_config={"model": "gpt-4o"})
        user_proxy = UserProxyAgent(name="user_proxy")
        result = user_proxy.initiate_chat(assistant, message=message)
        save_message(session_id, {"role": "user", "content": message})
        return result
"""


def found(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


def test_article_first_handler_is_ad1_with_no_route_in_the_tree(scan_tree):
    result = scan_tree({"handler.py": ARTICLE_FIRST})
    assert found(result) == [("AD101", "handler.py", 9)]
    finding = result.findings[0]
    assert "takes a conversation key" in finding.message
    assert [(step.path, step.line) for step in finding.trace] == [
        ("handler.py", 5), ("handler.py", 9), ("handler.py", 3)]


def test_article_fixed_handler_is_ad2_and_ad5(scan_tree):
    result = scan_tree({"store.py": ARTICLE_STORE, "handler.py": ARTICLE_FIXED})
    assert found(result) == [("AD201", "handler.py", 6), ("AD501", "store.py", 14)]
    ad2 = next(f for f in result.findings if f.code == "AD201")
    assert "history is loaded into `history` (line 5) but never reaches the agent" in ad2.message


def test_article_fixed_handler_that_gives_the_history_back_is_silent(scan_tree):
    result = scan_tree({"store.py": ARTICLE_STORE.replace(
        """        raw = r.get(f"chat:{session_id}")
        history = json.loads(raw) if raw else []
        history.append(message)
        r.set(f"chat:{session_id}", json.dumps(history))""",
        """        r.rpush(f"chat:{session_id}", json.dumps(message))"""),
        "handler.py": ARTICLE_FIXED.replace(
            "user_proxy.initiate_chat(assistant, message=message)",
            "user_proxy.initiate_chat(assistant, message=message, clear_history=False)").replace(
            """        assistant = AssistantAgent(name="assistant", llm_config={"model": "gpt-4o"})""",
            """        assistant = AssistantAgent(name="assistant", llm_config={"model": "gpt-4o"},
                                   chat_messages={"user_proxy": history})"""),
    })
    assert found(result) == []


def test_clean_twins_of_conversation_key_functions(scan_tree):
    result = scan_tree({"lib.py": """
        from autogen_agentchat.agents import AssistantAgent

        def summarise(text: str, client):
            # one-shot: no conversation key, no history concept
            agent = AssistantAgent("summariser", model_client=client)
            return agent.run(task=text)

        def format_key(session_id: str) -> str:
            return f"chat:{session_id}"     # takes a key, keeps nothing

        def count(session_id: str, counters: dict):
            counters[session_id] = 1       # writes only into what the caller passed
    """})
    assert found(result) == []


def test_script_folder_import_and_dispatch_table_reach_the_handler(scan_tree):
    result = scan_tree({
        "app/__init__.py": "",
        "app/service.py": """
            from autogen import AssistantAgent, UserProxyAgent

            def serve(inp):
                assistant = AssistantAgent("assistant", llm_config={})
                proxy = UserProxyAgent("proxy")
                return proxy.initiate_chat(assistant, message=inp["messages"][-1])
        """,
        "app/main.py": """
            from fastapi import FastAPI
            from service import serve   # run from inside app/: the script folder is on sys.path
            app = FastAPI()

            @app.post("/v1/chat/completions")
            async def route(inp: dict):
                services = {"gpt": serve}
                return services[inp["model"]](inp)
        """,
    }, codes="AD2")
    assert found(result) == [("AD201", "app/service.py", 4)]
    assert [step.path for step in result.findings[0].trace][:2] == ["app/main.py", "app/main.py"]


def test_websocket_agent_built_per_message_vs_per_connection(scan_tree):
    per_message = """
        from fastapi import FastAPI, WebSocket
        from autogen_agentchat.agents import AssistantAgent
        app = FastAPI()

        @app.websocket("/ws")
        async def ws(websocket: WebSocket):
            while True:
                text = await websocket.receive_text()
                agent = AssistantAgent("assistant", model_client=None)
                await agent.run(task=text)
    """
    result = scan_tree({"main.py": per_message}, codes="AD2")
    assert found(result) == [("AD201", "main.py", 9)]
    per_connection = per_message.replace(
        """            while True:
                text = await websocket.receive_text()
                agent = AssistantAgent("assistant", model_client=None)""",
        """            agent = AssistantAgent("assistant", model_client=None)
            while True:
                text = await websocket.receive_text()""")
    result = scan_tree({"main.py": per_connection}, codes="AD2")
    assert found(result) == []
