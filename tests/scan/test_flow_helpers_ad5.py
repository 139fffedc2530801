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
