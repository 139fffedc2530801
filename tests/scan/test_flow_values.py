"""The flow follows values: paths through getenv defaults, joins and `self` attributes, a
module-level queue, a user's values put into os.environ, Core message handlers and AG2
IOWebsockets handlers as request paths, state rows in a database loaded and saved by services."""


def found(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


def test_ad301_path_from_getenv_default_joined_and_written(scan_tree):
    result = scan_tree({"app.py": """
        import os
        from pathlib import Path
        from fastapi import FastAPI
        app = FastAPI()
        DATA = Path(os.getenv("CHAT_DIR", "chats"))

        @app.post("/chat/{session_id}")
        def chat(session_id: str, message: str):
            (DATA / f"{session_id}.txt").write_text(message)
    """}, codes="AD3")
    assert found(result) == [("AD301", "app.py", 9)]
    assert "$CHAT_DIR" in result.findings[0].message


def test_ad301_silent_when_getenv_default_is_absolute_shared_storage(scan_tree):
    result = scan_tree({"app.py": """
        import os
        from pathlib import Path
        from fastapi import FastAPI
        app = FastAPI()
        DATA = Path(os.getenv("CHAT_DIR", "/mnt/shared/chats"))

        @app.post("/chat/{session_id}")
        def chat(session_id: str, message: str):
            (DATA / f"{session_id}.txt").write_text(message)
    """}, codes="AD3")
    assert found(result) == []


def test_ad603_module_queue_and_per_request_twin(scan_tree):
    source = """
        import asyncio
        from fastapi import FastAPI
        app = FastAPI()
        replies: asyncio.Queue = asyncio.Queue()

        @app.post("/chat")
        async def chat(message: str):
            async def stream():
                yield await replies.get()
            return stream()
    """
    result = scan_tree({"app.py": source}, codes="AD6")
    assert found(result) == [("AD603", "app.py", 4)]
    per_request = source.replace("replies: asyncio.Queue = asyncio.Queue()\n", "").replace(
        "async def chat(message: str):", "async def chat(message: str):\n            replies = asyncio.Queue()")
    assert found(scan_tree({"app.py": per_request}, codes="AD6")) == []


def test_ad101_user_values_into_os_environ_but_not_defaults(scan_tree):
    result = scan_tree({"app.py": """
        import os
        import gradio as gr

        def set_key(api_key):
            os.environ["OPENAI_API_KEY"] = api_key

        def defaults():
            os.environ.setdefault("OPENAI_API_KEY", "test")
            os.environ["MODE"] = "demo"

        gr.Textbox().submit(set_key)
        gr.Button().click(defaults)
    """}, codes="AD1")
    assert found(result) == [("AD101", "app.py", 5)]


def test_core_message_handler_and_ag2_websocket_handler_are_request_paths(scan_tree):
    result = scan_tree({
        "agent.py": """
            import os
            from autogen_core import RoutedAgent, message_handler

            class Writer(RoutedAgent):
                @message_handler
                async def on_task(self, message, ctx):
                    with open(os.path.join("history", f"{ctx.topic_id.source}.json"), "w") as f:
                        f.write(message.text)
        """,
        "server.py": """
            from autogen import ConversableAgent, UserProxyAgent
            from autogen.io.websockets import IOWebsockets

            def on_connect(iostream):
                while True:
                    text = iostream.input()
                    helper = ConversableAgent("helper", llm_config={})
                    UserProxyAgent("user").initiate_chat(helper, message=text)

            IOWebsockets.run_server_in_thread(on_connect=on_connect, port=8765)
        """,
    })
    assert found(result) == [("AD201", "server.py", 7), ("AD301", "agent.py", 7)]


def test_ad501_state_row_loaded_by_one_service_and_saved_by_another(scan_tree):
    files = {
        "services.py": """
            from sqlalchemy import select
            from sqlalchemy.ext.asyncio import AsyncSession
            from autogen_agentchat.agents import AssistantAgent

            async def get_session(db: AsyncSession, session_id):
                return (await db.execute(select(Session).where(Session.id == session_id))).scalar_one()

            async def get_agent(session_id, db: AsyncSession):
                agent = AssistantAgent("assistant", model_client=None)
                row = await get_session(db, session_id)
                await agent.load_state(row.agent_state)
                return agent

            async def update_agent_state(db: AsyncSession, session_id, state):
                row = await get_session(db, session_id)
                row.agent_state = state
                await db.flush()
        """,
        "routes.py": """
            from fastapi import FastAPI
            from services import get_agent, update_agent_state
            app = FastAPI()

            @app.post("/chat/{session_id}")
            async def chat(session_id: str, message: str, db=None):
                agent = await get_agent(session_id, db)
                await agent.run(task=message)
                state = await agent.save_state()
                await update_agent_state(db, session_id, state)
        """,
    }
    result = scan_tree(files, codes="AD5")
    assert found(result) == [("AD501", "routes.py", 10)]
    locked = dict(files)
    locked["services.py"] = files["services.py"].replace(
        "select(Session).where(Session.id == session_id)",
        "select(Session).where(Session.id == session_id).with_for_update()")
    locked["routes.py"] = files["routes.py"].replace("await update_agent_state", "await db.execute('SELECT 1 FOR UPDATE')\n"
                                                     "                await update_agent_state")
    assert found(scan_tree(locked, codes="AD5")) == []


def test_ad301_path_passed_through_a_service_into_an_object_that_writes_it(scan_tree):
    files = {
        "state.py": """
            import json
            from pathlib import Path

            class StateStore:
                def __init__(self, file_path):
                    self.file_path = Path(file_path)

                def save(self, tree):
                    temp = self.file_path.with_suffix(".tmp")
                    with temp.open("w") as f:
                        json.dump(tree, f)
        """,
        "service.py": """
            from state import StateStore

            def save_tree(session_id, tree, state_file):
                StateStore(file_path=state_file).save(tree)
        """,
        "main.py": """
            import os
            from fastapi import FastAPI
            from service import save_tree
            app = FastAPI()

            @app.post("/tree/{session_id}")
            def tree(session_id: str, body: dict):
                path = os.getenv("STATE_FILE", f"state_{session_id}.json")
                save_tree(session_id, body, path)
        """,
    }
    result = scan_tree(files, codes="AD3")
    assert found(result) == [("AD301", "state.py", 10)]
    assert "$STATE_FILE" in result.findings[0].message
    shared = dict(files)
    shared["main.py"] = files["main.py"].replace('f"state_{session_id}.json"', 'f"/mnt/shared/state_{session_id}.json"')
    assert found(scan_tree(shared, codes="AD3")) == []
