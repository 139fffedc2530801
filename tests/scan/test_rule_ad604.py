"""AD604: a conversation id that falls back to a fixed value when the request sends none.

Every shape below is one a chat service uses to take its conversation id from the request; the
clean twins differ only in what happens when the id is missing, or in where the value comes from.
"""


def codes_at(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


FASTAPI_BODY = """
    import json
    from fastapi import FastAPI, Request
    app = FastAPI()

    @app.post("/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        conversation_id = body.get("conversation_id", "conv_id")
        path = f"chat_history/history-{conversation_id}.json"
        with open(path) as handle:
            return json.load(handle)
"""


def test_json_body_lookup_with_a_literal_default(scan_tree):
    result = scan_tree({"app.py": FASTAPI_BODY}, codes="AD604")
    assert codes_at(result) == [("AD604", "app.py", 8)]
    finding = result.findings[0]
    assert finding.symbol == "conversation_id" and finding.severity.value == "error"
    assert "'conv_id'" in finding.message and "POST /chat/completions" in finding.message
    assert [(step.path, step.line) for step in finding.trace] == [("app.py", 6), ("app.py", 8)]


def test_flask_request_json_or_literal(scan_tree):
    result = scan_tree({"app.py": """
        from flask import Flask, request, jsonify
        from store import load_history
        app = Flask(__name__)

        @app.post("/chat")
        def chat():
            data = request.json or {}
            session_id = data.get("session_id") or "default"
            return jsonify(load_history(session_id))
    """, "store.py": """
        def load_history(session_id):
            return []
    """}, codes="AD604")
    assert codes_at(result) == [("AD604", "app.py", 8)]


def test_header_lookup_in_a_helper_the_route_calls(scan_tree):
    result = scan_tree({"app.py": """
        from fastapi import FastAPI, Request
        app = FastAPI()
        SESSIONS = {}

        def session_for(request):
            thread_id = request.headers.get("X-Thread-Id", "main")
            return SESSIONS.setdefault(thread_id, [])

        @app.post("/chat")
        async def chat(request: Request):
            return {"turns": len(session_for(request))}
    """}, codes="AD604")
    assert codes_at(result) == [("AD604", "app.py", 6)]


def test_route_parameter_defaults(scan_tree):
    result = scan_tree({"app.py": """
        from fastapi import FastAPI, Query
        app = FastAPI()
        HISTORY = {}

        @app.get("/history")
        async def history(session_id: str = "default"):
            return HISTORY.get(session_id, [])

        @app.get("/stream")
        async def stream(q: str, chatId: str = Query("main")):
            return {"id": chatId, "q": q}
    """}, codes="AD604")
    assert codes_at(result) == [("AD604", "app.py", 6), ("AD604", "app.py", 10)]


def test_request_model_field_default(scan_tree):
    result = scan_tree({"models.py": """
        from pydantic import BaseModel, Field

        class ChatRequest(BaseModel):
            message: str
            thread_id: str = Field(default="default")
    """, "app.py": """
        from fastapi import FastAPI
        from models import ChatRequest
        app = FastAPI()
        THREADS = {}

        @app.post("/chat")
        async def chat(req: ChatRequest):
            THREADS.setdefault(req.thread_id, []).append(req.message)
            return {"ok": True}
    """}, codes="AD604")
    assert codes_at(result) == [("AD604", "models.py", 5)]
    assert result.findings[0].symbol == "req.thread_id"


def test_silent_when_a_missing_id_is_refused_or_made_fresh(scan_tree):
    result = scan_tree({"app.py": """
        import uuid
        from fastapi import FastAPI, HTTPException, Request
        app = FastAPI()
        HISTORY = {}

        @app.post("/a")
        async def refused(request: Request):
            body = await request.json()
            session_id = body.get("session_id")
            if not session_id:
                raise HTTPException(400, "session_id is required")
            return HISTORY.get(session_id, [])

        @app.post("/b")
        async def fresh(request: Request):
            body = await request.json()
            session_id = body.get("session_id") or str(uuid.uuid4())
            return {"session_id": session_id, "turns": HISTORY.get(session_id, [])}

        @app.post("/c")
        async def empty_default(request: Request):
            body = await request.json()
            session_id = body.get("session_id", "")
            return HISTORY.get(session_id, [])

        @app.get("/d")
        async def required(session_id: str, user_id: str = "anonymous"):
            return HISTORY.get(session_id, [])
    """}, codes="AD604")
    assert codes_at(result) == []


def test_silent_for_stored_rows_configuration_and_other_fields(scan_tree):
    result = scan_tree({"app.py": """
        import os
        from fastapi import FastAPI, Request
        app = FastAPI()
        ROWS = []

        @app.get("/sessions")
        async def sessions(user_id: str):
            seen = []
            for row in ROWS:
                sid = row.get("session_id", "default")  # a stored row, not the request
                seen.append(sid)
            return seen

        @app.post("/chat")
        async def chat(request: Request):
            body = await request.json()
            model = body.get("model", "gpt-4o")  # not an id
            session_id = os.getenv("SESSION_ID", "default")  # configuration: AD601's business
            return {"model": model, "session": session_id}

        @app.post("/unused")
        async def unused(request: Request):
            body = await request.json()
            session_id = body.get("session_id", "default")
            return {"ok": True}
    """}, codes="AD604")
    assert codes_at(result) == []


def test_silent_for_a_helper_default_the_route_always_fills(scan_tree):
    result = scan_tree({"app.py": """
        from fastapi import FastAPI
        app = FastAPI()
        HISTORY = {}

        def load(session_id: str = "default"):
            return HISTORY.get(session_id, [])

        @app.get("/history/{session_id}")
        async def history(session_id: str):
            return load(session_id)
    """}, codes="AD604")
    assert codes_at(result) == []
