"""AD5 through helpers: history loaded by one function, changed by the caller, written whole by
the caller or by another helper; the atomic and locked twins stay silent."""


def found(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


FILES = {
    "history.py": """
        import json, os

        HISTORY = "history.json"

        def load_history():
            if not os.path.exists(HISTORY):
                return []
            with open(HISTORY) as f:
                return json.load(f)
    """,
    "api.py": """
        import json
        from fastapi import FastAPI
        from history import HISTORY, load_history
        app = FastAPI()

        @app.post("/chat")
        def chat(message: str):
            history = load_history()
            history.append({"role": "user", "content": message})
            with open(HISTORY, "w") as f:
                f.write(json.dumps(history))
    """,
}


def test_ad501_file_loaded_by_a_helper_and_written_back_by_the_caller(scan_tree):
    result = scan_tree(FILES, codes="AD5")
    assert found(result) == [("AD501", "api.py", 11)]
    assert [(step.path, step.line) for step in result.findings[0].trace] == [
        ("api.py", 7), ("api.py", 8), ("history.py", 8), ("api.py", 11)]


def test_ad501_redis_loaded_and_saved_by_two_helpers(scan_tree):
    result = scan_tree({
        "store.py": """
            import json
            from redis.asyncio import Redis
            redis = Redis()

            async def load_history(session_id):
                return json.loads(await redis.get(f"h:{session_id}") or "[]")

            async def save_history(session_id, history):
                await redis.set(f"h:{session_id}", json.dumps(history))
        """,
        "api.py": """
            from fastapi import FastAPI
            from store import load_history, save_history
            app = FastAPI()

            @app.post("/chat/{session_id}")
            async def chat(session_id: str, message: str):
                history = await load_history(session_id)
                history.append(message)
                await save_history(session_id, history)
        """,
    }, codes="AD5")
    assert found(result) == [("AD501", "api.py", 9)]
    assert ("store.py", 9) in [(step.path, step.line) for step in result.findings[0].trace]


def test_ad501_helpers_silent_when_locked_or_when_the_write_is_another_file(scan_tree):
    locked = dict(FILES)
    locked["api.py"] = FILES["api.py"].replace(
        "            history = load_history()", "            with FileLock(HISTORY + \".lock\"):\n"
        "                history = load_history()").replace(
        "from fastapi import FastAPI", "from fastapi import FastAPI\n        from filelock import FileLock")
    assert found(scan_tree(locked, codes="AD5")) == []
    other = dict(FILES)
    other["api.py"] = FILES["api.py"].replace('with open(HISTORY, "w")', 'with open("report.json", "w")')
    assert found(scan_tree(other, codes="AD5")) == []
    appended = dict(FILES)
    appended["api.py"] = FILES["api.py"].replace('with open(HISTORY, "w")', 'with open(HISTORY, "a")').replace(
        "f.write(json.dumps(history))", "f.write(json.dumps(history[-1]) + \"\\n\")")
    # appending one line writes nothing back: no update can be lost
    assert found(scan_tree(appended, codes="AD5")) == []


SESSION_HELPERS = """
    from sqlalchemy import JSON, Column, String, create_engine, select
    from sqlalchemy.orm import declarative_base, sessionmaker

    engine = create_engine("postgresql://db/app")
    SessionLocal = sessionmaker(bind=engine)
    Base = declarative_base()

    class Conversation(Base):
        __tablename__ = "conversations"
        id = Column(String, primary_key=True)
        agent_state = Column(JSON)

    def load_agent_state(conversation_id):
        with SessionLocal() as db:
            row = db.execute(select(Conversation).where(Conversation.id == conversation_id){lock}).scalar_one()
            return row.agent_state

    def save_agent_state(conversation_id, state):
        with SessionLocal() as db:
            row = db.get(Conversation, conversation_id)
            row.agent_state = state
            db.commit()
"""

SESSION_ROUTE = """
    from fastapi import FastAPI
    from autogen_agentchat.agents import AssistantAgent
    from db import load_agent_state, save_agent_state
    app = FastAPI()

    @app.post("/chat/{conversation_id}")
    async def chat(conversation_id: str, content: str):
        agent = AssistantAgent("a", model_client=None)
        agent_state = load_agent_state(conversation_id)
        await agent.load_state(agent_state)
        result = await agent.run(task=content)
        save_agent_state(conversation_id, await agent.save_state())
        return result
"""


def test_helpers_that_open_their_own_session_read_and_write_back(scan_tree):
    """`with SessionLocal() as db:` (a sessionmaker made at module level) is a database session
    like an injected one: the state row read by one helper and saved whole by another is a lost
    update; locking the row in the read (`with_for_update()`) is not."""
    result = scan_tree({"db.py": SESSION_HELPERS.replace("{lock}", ""), "app.py": SESSION_ROUTE}, codes="AD501")
    assert [(f.code, f.path, f.line) for f in result.findings] == [("AD501", "app.py", 12)]
    locked = scan_tree({"db.py": SESSION_HELPERS.replace("{lock}", ".with_for_update()"), "app.py": SESSION_ROUTE},
                       codes="AD501")
    assert locked.findings == []


INLINE_ROUTE = """
    from fastapi import Depends, FastAPI
    from sqlalchemy import select
    from sqlalchemy.orm import Session
    from autogen_agentchat.agents import AssistantAgent
    from db import Conversation, SessionLocal
    app = FastAPI()

    def get_db():
        with SessionLocal() as db:
            yield db

    @app.post("/chat/{conversation_id}")
    async def chat(conversation_id: str, content: str, db: Session = Depends(get_db)):
        conversation = db.execute(select(Conversation).where(Conversation.id == conversation_id){lock}).scalar_one()
        agent = AssistantAgent("a", model_client=None)
        await agent.load_state(conversation.agent_state)
        result = await agent.run(task=content)
        conversation.agent_state = await agent.save_state()
        conversation.message_count += 1
        conversation.title = content[:40]
        db.commit()
        return result
"""


def test_orm_row_state_loaded_used_and_committed_whole_in_the_route(scan_tree):
    """The row's state column restores the agent and is set whole after the run, then committed:
    reported at the column's assignment. Locking the row is silent, and so are the counter and the
    title (not conversation state, or never read for the turn)."""
    db = SESSION_HELPERS.replace("{lock}", "")
    result = scan_tree({"db.py": db, "app.py": INLINE_ROUTE.replace("{lock}", "")}, codes="AD501")
    assert [(f.code, f.path, f.line) for f in result.findings] == [("AD501", "app.py", 18)]
    assert "conversation.agent_state" in result.findings[0].message
    locked = scan_tree({"db.py": db, "app.py": INLINE_ROUTE.replace("{lock}", ".with_for_update()")}, codes="AD501")
    assert locked.findings == []


def test_orm_row_from_a_getter_handed_the_session(scan_tree):
    """`conversation = await get_conversation(db, id)` inside `async with SessionLocal() as db:`
    loads the row as surely as `db.get(...)` does."""
    getter_route = INLINE_ROUTE.replace("{lock}", "").replace(
        "conversation = db.execute(select(Conversation).where(Conversation.id == conversation_id)).scalar_one()",
        "conversation = get_conversation(db, conversation_id)").replace(
        "    def get_db():", "    def get_conversation(db, conversation_id):\n"
                            "        return db.get(Conversation, conversation_id)\n\n    def get_db():")
    result = scan_tree({"db.py": SESSION_HELPERS.replace("{lock}", ""), "app.py": getter_route}, codes="AD501")
    assert [(f.code, f.path) for f in result.findings] == [("AD501", "app.py")]
    assert "conversation.agent_state" in result.findings[0].message
