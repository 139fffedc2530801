"""AD3xx (ephemeral storage, from Python) and AD5xx (racy read-modify-write)."""


def found(result):
    return [(f.code, f.path, f.line) for f in result.findings]


def test_ad301_writes_to_tmp_and_relative_paths_on_request_path(scan_tree):
    result = scan_tree({
        "settings.py": 'HISTORY_DIR = "/tmp/chats"\n',
        "main.py": """
            import json, os, tempfile
            from pathlib import Path
            from fastapi import FastAPI
            from settings import HISTORY_DIR
            app = FastAPI()
            DATA = Path("data")

            def save(sid, history):
                with open(os.path.join(HISTORY_DIR, f"{sid}.json"), "w") as f:
                    json.dump(history, f)

            @app.post("/chat")
            def chat(sid: str, msg: str):
                save(sid, [msg])
                (DATA / f"{sid}.json").write_text(msg)
                path = f"/tmp/{sid}.txt"
                with open(path, "a") as f:
                    f.write(msg)
                with open(os.path.join(tempfile.gettempdir(), sid), "w") as f:
                    f.write(msg)
        """,
    }, codes="AD3")
    assert found(result) == [("AD301", "main.py", 9), ("AD301", "main.py", 15),
                             ("AD301", "main.py", 17), ("AD301", "main.py", 19)]
    assert "/tmp/chats" in result.findings[0].message


def test_ad301_silent_on_reads_caches_env_paths_and_scripts(scan_tree):
    result = scan_tree({
        "main.py": """
            import os, tempfile
            from fastapi import FastAPI
            app = FastAPI()
            DATA_DIR = os.environ["DATA_DIR"]

            @app.post("/chat")
            def chat(sid: str, msg: str):
                with open("prompts/system.txt") as f:
                    prompt = f.read()
                with open(os.path.join(DATA_DIR, sid), "w") as f:
                    f.write(msg)
                with open("/tmp/llm_cache/x.json", "w") as f:
                    f.write(msg)
                with tempfile.NamedTemporaryFile("w") as upload:
                    upload.write(msg)
                with open("/var/lib/app/x", "w") as f:
                    f.write(msg)
        """,
        "export.py": """
            def main():
                with open("/tmp/out.json", "w") as f:
                    f.write("x")

            if __name__ == "__main__":
                main()
        """,
    }, codes="AD3")
    assert found(result) == []


def test_ad302_local_databases_and_vector_stores(scan_tree):
    result = scan_tree({"main.py": """
        import sqlite3
        import chromadb
        from sqlalchemy import create_engine
        from fastapi import FastAPI
        from autogen_ext.memory.chromadb import (ChromaDBVectorMemory, PersistentChromaDBVectorMemoryConfig,
                                                 HttpChromaDBVectorMemoryConfig)
        from autogen.agentchat.contrib.capabilities.teachability import Teachability
        app = FastAPI()

        conn = sqlite3.connect("chat.db")
        memory_db = sqlite3.connect(":memory:")
        engine = create_engine("sqlite:///./sessions.db")
        client = chromadb.PersistentClient(path="/tmp/chroma")
        memory = ChromaDBVectorMemory(config=PersistentChromaDBVectorMemoryConfig(collection_name="n"))
        teach = Teachability(verbosity=0)
        # clean look-alikes
        shared = create_engine("postgresql://db/app")
        abs_engine = create_engine("sqlite:////var/data/app.db")
        remote = ChromaDBVectorMemory(config=HttpChromaDBVectorMemoryConfig(host="chroma", port=8000))
        teach_ok = Teachability(path_to_db_dir="/mnt/shared/teach")
        conn.execute("CREATE TABLE IF NOT EXISTS messages (sid TEXT, body TEXT)")
    """}, codes="AD3")
    assert found(result) == [("AD302", "main.py", line) for line in (10, 11, 12, 13, 14, 15)]


def test_ad302_silent_for_a_sqlite_dataset_the_service_only_queries(scan_tree):
    """A SQLite file shipped next to the code and only read (SELECT) holds no conversation;
    the same file written to (INSERT, commit) is reported."""
    tool = """
        import os, sqlite3
        DB = os.path.join(os.path.dirname(__file__), "..", "data", "sales.db")

        def run_query(query):
            connection = sqlite3.connect(DB)
            rows = connection.execute(query).fetchall()
            {write}
            return rows
    """
    route = """
        from flask import Flask, request
        from tools.query import run_query
        app = Flask(__name__)

        @app.post("/ask")
        def ask():
            return {"rows": run_query("SELECT * FROM sales")}
    """
    quiet = scan_tree({"tools/__init__.py": "", "tools/query.py": tool.replace("{write}", "pass"), "app.py": route},
                      codes="AD302")
    assert found(quiet) == []
    written = tool.replace("{write}", 'connection.execute("INSERT INTO asked VALUES (?)", (query,)); connection.commit()')
    loud = scan_tree({"tools/__init__.py": "", "tools/query.py": written, "app.py": route}, codes="AD302")
    assert found(loud) == [("AD302", "tools/query.py", 5)]
    assert "code's own folder" in loud.findings[0].message


def test_ad302_engine_url_from_a_constant_or_a_settings_default(scan_tree):
    """The URL given to `create_engine` by name: a module constant (here or imported) or the
    default of a settings class field; a server URL stays silent, and so does a name that may
    hold more than one value."""
    result = scan_tree({
        "config.py": """
            from pydantic_settings import BaseSettings

            class Settings(BaseSettings):
                DATABASE_URI: str = "sqlite:///./studio.db"
                REMOTE_URI: str = "postgresql://db/app"

            settings = Settings()
            LOCAL_URL = "sqlite+aiosqlite:///./chat.db"
        """,
        "db.py": """
            import os
            from sqlalchemy import create_engine
            from sqlalchemy.ext.asyncio import create_async_engine
            from config import LOCAL_URL, settings

            chat = create_async_engine(LOCAL_URL, future=True)
            studio = create_engine(settings.DATABASE_URI)
            remote = create_engine(settings.REMOTE_URI)

            def make(url=None):
                url = os.environ.get("DATABASE_URL")
                url = url or "sqlite:///./fallback.db"
                return create_engine(url)
        """,
    }, codes="AD302")
    assert found(result) == [("AD302", "db.py", 6), ("AD302", "db.py", 7)]


def test_ad501_redis_get_append_set(scan_tree):
    result = scan_tree({"main.py": """
        import json
        import redis.asyncio as aioredis
        from fastapi import FastAPI
        app = FastAPI()
        r = aioredis.Redis()

        @app.post("/racy")
        async def racy(sid: str, msg: str):
            raw = await r.get(f"chat:{sid}")
            history = json.loads(raw) if raw else []
            history.append(msg)
            await r.set(f"chat:{sid}", json.dumps(history))

        @app.post("/atomic")
        async def atomic(sid: str, msg: str):
            await r.rpush(f"chat:{sid}", msg)
            return await r.lrange(f"chat:{sid}", 0, -1)

        @app.post("/locked")
        async def locked(sid: str, msg: str):
            async with r.lock(f"lock:{sid}", timeout=5):
                raw = await r.get(f"chat:{sid}")
                history = json.loads(raw or "[]") + [msg]
                await r.set(f"chat:{sid}", json.dumps(history))

        @app.post("/overwrite")
        async def overwrite(sid: str, msg: str):
            name = await r.get(f"name:{sid}")
            await r.set(f"last:{sid}", msg)
    """}, codes="AD5")
    assert found(result) == [("AD501", "main.py", 12)]
    assert "RPUSH" in result.findings[0].fix


def test_ad501_json_file_and_sql_blob(scan_tree):
    result = scan_tree({"views.py": """
        import json, sqlite3
        from django.http import JsonResponse
        DB = "/data/app.db"

        def file_history(request):
            with open(f"/data/{request.GET['sid']}.json") as f:
                history = json.load(f)
            history.append(request.GET["m"])
            with open(f"/data/{request.GET['sid']}.json", "w") as f:
                json.dump(history, f)
            return JsonResponse({})

        def sql_history(request):
            db = sqlite3.connect(DB)
            row = db.execute("SELECT history FROM chats WHERE id = ?", (request.GET["sid"],)).fetchone()
            history = json.loads(row[0])
            history.append(request.GET["m"])
            db.execute("UPDATE chats SET history = ? WHERE id = ?", (json.dumps(history), request.GET["sid"]))

        def sql_versioned(request):
            db = sqlite3.connect(DB)
            row = db.execute("SELECT history, version FROM chats WHERE id = ?", (1,)).fetchone()
            history = json.loads(row[0]) + [1]
            db.execute("UPDATE chats SET history = ?, version = version + 1 WHERE id = ? AND version = ?",
                       (json.dumps(history), 1, row[1]))

        def sql_insert(request):
            db = sqlite3.connect(DB)
            db.execute("INSERT INTO messages (sid, body) VALUES (?, ?)", (1, request.GET["m"]))
    """}, codes="AD5")
    assert found(result) == [("AD501", "views.py", 10), ("AD501", "views.py", 18)]


def test_ad501_agent_state_round_trip_without_lock(scan_tree):
    result = scan_tree({"main.py": """
        import json
        import redis.asyncio as redis
        from fastapi import FastAPI
        from autogen_agentchat.agents import AssistantAgent
        api = FastAPI()
        states = redis.Redis()

        @api.post("/chat")
        async def chat(sid: str, msg: str):
            agent = AssistantAgent("assistant", model_client=None)
            saved = await states.get(sid)
            if saved:
                await agent.load_state(json.loads(saved))
            result = await agent.run(task=msg)
            await states.set(sid, json.dumps(await agent.save_state()), ex=86400)
    """})
    assert [(f.code, f.line, f.symbol) for f in result.findings] == [("AD501", 15, "saved")]


def test_llm_response_caches_and_model_downloads_stay_silent(scan_tree):
    result = scan_tree({"main.py": """
        import diskcache
        from fastapi import FastAPI
        from autogen import AssistantAgent, Cache
        from autogen_ext.cache_store.diskcache import DiskCacheStore
        from autogen_ext.models.cache import ChatCompletionCache
        from huggingface_hub import hf_hub_download
        app = FastAPI()

        @app.post("/ask")
        def ask(q: str, history: list):
            with Cache.disk(cache_path_root="/tmp/autogen_cache") as cache:
                agent = AssistantAgent("a", llm_config={"cache_seed": 42})
                reply = agent.generate_reply(messages=history + [{"role": "user", "content": q}], cache=cache)
            store = DiskCacheStore(diskcache.Cache("/tmp/llm_cache"))
            client = ChatCompletionCache(None, store)
            weights = hf_hub_download("org/model", "w.bin", cache_dir="/tmp/models")
            with open("/tmp/models/extra.bin", "wb") as f:
                f.write(b"")
            return reply
    """})
    assert [f.code for f in result.findings] == []


def test_gradio_callback_is_an_entry_point(scan_tree):
    result = scan_tree({"ui.py": """
        import gradio as gr
        chats = {}

        def respond(message, history, request: gr.Request):
            chats.setdefault(request.session_hash, []).append(message)
            return "ok"

        demo = gr.ChatInterface(fn=respond)
    """})
    assert [(f.code, f.symbol) for f in result.findings] == [("AD101", "chats")]
    assert "gr.State" in result.findings[0].fix


def test_ad301_writes_next_to_the_code_through_path_parents(scan_tree):
    """`Path(__file__).resolve().parent.parent / "data"` is the code's own folder: inside the
    container, per replica; a home-relative path is not guessed."""
    route = """
        import json
        from pathlib import Path
        from flask import Flask, request
        BASE = {base}
        app = Flask(__name__)

        @app.post("/chat")
        def chat():
            (BASE / "data" / f"{{request.json['sid']}}.json").write_text(json.dumps(request.json))
            return "ok"
    """
    loud = scan_tree({"app.py": route.format(base="Path(__file__).resolve().parent.parent")}, codes="AD301")
    assert found(loud) == [("AD301", "app.py", 9)] and "code's own folder" in loud.findings[0].message
    quiet = scan_tree({"app.py": route.format(base='Path("~/chats").expanduser()')}, codes="AD301")
    assert found(quiet) == []
