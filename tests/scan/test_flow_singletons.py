"""AD108: containers on once-per-process objects, through every way such an object is made,
and the look-alikes that must stay silent."""

import json
import textwrap

import pytest

SERVICE = textwrap.dedent("""
    from autogen_agentchat.teams import RoundRobinGroupChat

    class ChatService:
        def __init__(self):
            self.teams = {}
            self.clients = {}

        def get_team(self, session_id):
            if session_id not in self.teams:
                self._remember(session_id, RoundRobinGroupChat([]))
            return self.teams[session_id]

        def _remember(self, session_id, team):
            self.teams[session_id] = team
""")


def ad108(result):
    return [(f.path, f.line, f.symbol) for f in result.findings if f.code == "AD108"]


@pytest.mark.parametrize("maker,use", [
    ("service = ChatService()", "service"),
    ("from functools import lru_cache\n\n@lru_cache\ndef get_service():\n    return ChatService()", "get_service()"),
    ("_service = None\n\ndef get_service():\n    global _service\n    if _service is None:\n"
     "        _service = ChatService()\n    return _service", "get_service()"),
    ("_service = ChatService()\n\ndef get_service():\n    return _service", "get_service()"),
])
def test_ad108_singleton_made_many_ways_written_through_its_methods(scan_tree, maker, use):
    result = scan_tree({
        "svc/__init__.py": "",
        "svc/service.py": SERVICE + "\n" + maker + "\n",
        "svc/routes.py": f"""
            from fastapi import FastAPI
            from svc.service import {use.rstrip('()')}
            app = FastAPI()

            @app.post("/chat")
            async def chat(session_id: str, message: str):
                team = {use}.get_team(session_id)
                return await team.run(task=message)
        """,
    }, codes="AD1")
    assert ad108(result) == [("svc/service.py", 14, "ChatService.teams")]
    finding = result.findings[0]
    lines = [(step.path, step.line) for step in finding.trace]
    assert lines[0] == ("svc/routes.py", 6)  # the route
    assert ("svc/routes.py", 7) in lines and ("svc/service.py", 10) in lines and ("svc/service.py", 14) in lines


def test_ad108_fastapi_depends_and_direct_attribute_write(scan_tree):
    result = scan_tree({"main.py": """
        from typing import Annotated
        from fastapi import Depends, FastAPI

        class SessionManager:
            def __init__(self):
                self.sessions = {}

        manager = SessionManager()
        app = FastAPI()

        def get_manager():
            return manager

        @app.post("/a")
        async def a(sid: str, mgr: SessionManager = Depends(get_manager)):
            mgr.sessions[sid] = []

        @app.post("/b")
        async def b(sid: str, mgr: Annotated[SessionManager, Depends(get_manager)]):
            mgr.sessions.setdefault(sid, []).append("hi")
    """}, codes="AD1")
    assert ad108(result) == [("main.py", 16, "SessionManager.sessions"), ("main.py", 20, "SessionManager.sessions")]


def test_ad108_class_level_instance(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        app = FastAPI()

        class Memory:
            _instance = None

            def __init__(self):
                self.history = []

            @classmethod
            def get(cls):
                if cls._instance is None:
                    cls._instance = cls()
                return cls._instance

            def add(self, message):
                self.history.append(message)

        @app.post("/chat")
        def chat(message: str):
            Memory.get().add(message)
    """}, codes="AD1")
    assert ad108(result) == [("main.py", 17, "Memory.history")]


def test_ad108_silent_on_per_request_objects_and_per_process_things(scan_tree):
    result = scan_tree({
        "svc/__init__.py": "",
        "svc/service.py": SERVICE + textwrap.dedent("""
            class Pool:
                def __init__(self):
                    self.connections = {}
                    self.locks = {}

                def connect(self, session_id, websocket):
                    self.connections[session_id] = websocket
                    self.locks[session_id] = object()

            pool = Pool()
        """),
        "svc/routes.py": """
            from fastapi import FastAPI
            from svc.service import ChatService, pool
            app = FastAPI()

            @app.post("/chat")
            async def chat(session_id: str, message: str):
                service = ChatService()          # one per request: dropped with it
                team = service.get_team(session_id)
                return await team.run(task=message)

            @app.websocket("/ws/{session_id}")
            async def ws(websocket, session_id: str):
                pool.connect(session_id, websocket)
        """,
    }, codes="AD108")
    assert ad108(result) == []


def test_ad108_trace_in_json_and_sarif(tmp_path, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    from support.files import write_tree

    write_tree(tmp_path, {"main.py": """
        from fastapi import FastAPI
        app = FastAPI()

        class Store:
            def __init__(self):
                self.histories = {}

            def add(self, sid, m):
                self.histories.setdefault(sid, []).append(m)

        store = Store()

        @app.post("/chat")
        def chat(sid: str, m: str):
            store.add(sid, m)
    """})
    run = lambda fmt: subprocess.run([sys.executable, "-m", "autogen_doctor", "scan", ".", "--no-cache",
                                      "--select", "AD108", "--format", fmt], cwd=tmp_path, capture_output=True, text=True)
    document = json.loads(run("json").stdout)
    trace = document["findings"][0]["trace"]
    assert [(step["path"], step["line"]) for step in trace] == [
        ("main.py", 14), ("main.py", 15), ("main.py", 9), ("main.py", 11)]
    assert all(set(step) == {"path", "line", "note"} for step in trace)
    sarif = json.loads(run("sarif").stdout)
    flow = sarif["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [item["location"]["physicalLocation"]["region"]["startLine"] for item in flow] == [14, 15, 9, 11]
    import jsonschema
    schema = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    text = run("text").stdout
    assert "  trace: main.py:15: calls `store.add()`" in text


def test_ad108_manager_kept_on_a_per_connection_handler_object(scan_tree):
    # The handler object is made per connection, but the manager it keeps comes from a lazy
    # global getter: its sessions outlive the connection.
    result = scan_tree({
        "handlers/session_manager.py": """
            class SessionManager:
                def __init__(self):
                    self.sessions = {}

                def get_or_create(self, session_id):
                    if session_id not in self.sessions:
                        self.sessions[session_id] = object()
                    return self.sessions[session_id]

            _manager = None

            def get_session_manager():
                global _manager
                if _manager is None:
                    _manager = SessionManager()
                return _manager
        """,
        "handlers/ws.py": """
            from handlers.session_manager import get_session_manager

            class WebSocketHandler:
                def __init__(self, websocket):
                    self.websocket = websocket
                    self.manager = get_session_manager()

                async def handle(self):
                    session_id = await self.websocket.receive_text()
                    self.session = self.manager.get_or_create(session_id)
        """,
        "main.py": """
            from fastapi import FastAPI, WebSocket
            from handlers.ws import WebSocketHandler   # handlers/ has no __init__.py
            app = FastAPI()

            @app.websocket("/ws")
            async def ws(websocket: WebSocket):
                await WebSocketHandler(websocket).handle()
        """,
    }, codes="AD108")
    assert ad108(result) == [("handlers/session_manager.py", 7, "SessionManager.sessions")]
    notes = [step.note for step in result.findings[0].trace]
    assert notes[-1].startswith("one `SessionManager` per process")
