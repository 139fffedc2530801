"""AD1xx: process-local state. Firing cases per framework and the clean look-alikes."""


def codes(result):
    return [(f.code, f.path, f.line, f.symbol) for f in result.findings]


def test_ad101_fastapi_direct_write(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        app = FastAPI()
        sessions: dict[str, list] = {}

        @app.post("/chat")
        async def chat(req: dict):
            sessions[req["sid"]] = [req["message"]]
            return {"ok": True}
    """}, codes="AD1")
    assert codes(result) == [("AD101", "main.py", 7, "sessions")]
    finding = result.findings[0]
    assert "POST /chat" in finding.message and "Redis" in finding.fix
    assert finding.context == 'sessions[req["sid"]] = [req["message"]]'


def test_ad101_cross_module_state_through_helper_and_apirouter(scan_tree):
    result = scan_tree({
        "svc/__init__.py": "",
        "svc/state.py": "from collections import defaultdict\nhistories = defaultdict(list)\n",
        "svc/store.py": """
            from .state import histories

            def remember(sid, message):
                histories[sid].append(message)
        """,
        "svc/routes.py": """
            from fastapi import APIRouter
            from . import store
            router = APIRouter()

            @router.websocket("/ws")
            async def talk(websocket):
                message = await websocket.receive_text()
                store.remember("s", message)
        """,
    }, codes="AD1")
    assert codes(result) == [("AD101", "svc/store.py", 4, "histories")]
    assert "websocket /ws" in result.findings[0].message
    assert "svc/state.py:2" in result.findings[0].message


def test_ad101_module_attribute_access_and_reexport(scan_tree):
    result = scan_tree({
        "pkg/__init__.py": "from .memory import CACHE\n",
        "pkg/memory.py": "from cachetools import TTLCache\nCACHE = TTLCache(maxsize=100, ttl=600)\n",
        "web.py": """
            import flask
            import pkg
            app = flask.Flask(__name__)

            @app.route("/chat", methods=["POST"])
            def chat():
                pkg.CACHE[flask.request.json["sid"]] = flask.request.json["message"]
                return "ok"
        """,
    }, codes="AD1")
    assert codes(result) == [("AD101", "web.py", 7, "CACHE")]
    assert "TTLCache" in result.findings[0].message and "gunicorn" in result.findings[0].fix


def test_ad101_flask_blueprint_and_django_views_and_celery(scan_tree):
    result = scan_tree({
        "bp.py": """
            from flask import Blueprint
            chats = []
            bp = Blueprint("chat", __name__)

            @bp.post("/chat")
            def post_chat():
                chats.append(1)
        """,
        "shop/views.py": """
            from django.http import JsonResponse
            from django.views import View
            carts = {}
            orders = {}

            def add(request):
                carts[request.session.session_key] = request.POST["item"]
                return JsonResponse({})

            class OrderView(View):
                def post(self, request):
                    orders.update({request.user.id: 1})
        """,
        "jobs.py": """
            from celery import Celery, shared_task
            app = Celery("jobs")
            seen = set()
            done = []

            @app.task
            def handle(x):
                seen.add(x)

            @shared_task(bind=True)
            def other(self, x):
                done.insert(0, x)
        """,
    }, codes="AD1")
    assert sorted(codes(result)) == [
        ("AD101", "bp.py", 7, "chats"),
        ("AD101", "jobs.py", 8, "seen"),
        ("AD101", "jobs.py", 12, "done"),
        ("AD101", "shop/views.py", 7, "carts"),
        ("AD101", "shop/views.py", 12, "orders"),
    ]
    celery_fix = [f.fix for f in result.findings if f.symbol == "seen"][0]
    assert "Celery" in celery_fix


def test_ad101_starlette_routes_aiohttp_chainlit_and_add_api_route(scan_tree):
    result = scan_tree({
        "star.py": """
            from starlette.applications import Starlette
            from starlette.routing import Route
            state = {}

            async def homepage(request):
                state["last"] = await request.body()

            app = Starlette(routes=[Route("/", homepage)])
        """,
        "aio.py": """
            from aiohttp import web
            routes = web.RouteTableDef()
            log = []

            @routes.post("/chat")
            async def chat(request):
                log.append(await request.text())

            async def other(request):
                log.extend([1])

            app = web.Application()
            app.router.add_get("/other", other)
        """,
        "cl_app.py": """
            import chainlit as cl
            memory = {}

            @cl.on_message
            async def main(message: cl.Message):
                memory.setdefault(cl.user_session.get("id"), []).append(message.content)
        """,
        "api.py": """
            from fastapi import FastAPI
            api = FastAPI()
            pending = {}

            def enqueue(job: dict):
                pending[job["id"]] = job

            api.add_api_route("/enqueue", enqueue, methods=["POST"])
        """,
    }, codes="AD1")
    assert sorted((c, p, s) for c, p, _, s in codes(result)) == [
        ("AD101", "aio.py", "log"), ("AD101", "aio.py", "log"),
        ("AD101", "api.py", "pending"), ("AD101", "cl_app.py", "memory"), ("AD101", "star.py", "state"),
    ]


def test_ad101_aliased_route_object_resolved_by_constructor(scan_tree):
    result = scan_tree({"m.py": """
        import fastapi as fa
        service = fa.FastAPI()
        turns = []

        @service.post("/t")
        def t(x: str):
            turns.append(x)
    """}, codes="AD1")
    assert codes(result) == [("AD101", "m.py", 7, "turns")]


def test_ad101_silent_on_import_time_registries_config_and_reads(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        app = FastAPI()
        TOOLS = {}
        CONFIG = {"model": "gpt-4o", "temperature": 0}
        ALLOWED = ["a", "b"]
        _clients = {}

        def tool(fn):
            TOOLS[fn.__name__] = fn
            return fn

        @tool
        def search(q): return q

        TOOLS["extra"] = search
        ALLOWED.append("c")

        @app.post("/chat")
        async def chat(req: dict):
            model = CONFIG["model"]
            if req["tool"] in TOOLS and req["x"] in ALLOWED:
                _clients.setdefault(model, object())
                local = {}
                local["x"] = 1
                return TOOLS[req["tool"]](req["q"])
    """}, codes="AD1")
    assert codes(result) == []


def test_ad101_silent_on_one_off_script_and_code_without_entry_points(scan_tree):
    result = scan_tree({
        "batch.py": """
            results = {}

            def run(item):
                results[item] = item * 2

            if __name__ == "__main__":
                for i in range(3):
                    run(i)
        """,
        "lib.py": """
            registry = []

            def register(x):
                registry.append(x)
        """,
    }, codes="AD1")
    assert codes(result) == []


def test_ad101_streamlit_script_globals_are_per_run_but_imported_state_is_shared(scan_tree):
    result = scan_tree({
        "shared.py": "conversations = {}\n",
        "ui.py": """
            import streamlit as st
            from shared import conversations
            history = []
            history.append(st.chat_input("say"))
            conversations[st.session_state["id"]] = history
        """,
    }, codes="AD1")
    assert codes(result) == [("AD101", "ui.py", 5, "conversations")]


def test_ad102_class_attribute_store(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        app = FastAPI()

        class Memory:
            history = {}
            def add(self, sid, m):
                self.history.setdefault(sid, []).append(m)

        class Fine:
            items = []
            def __init__(self):
                self.items = []
            def add(self, m):
                self.items.append(m)

        class Registry:
            store = {}
            @classmethod
            def put(cls, k, v):
                cls.store[k] = v

        @app.post("/chat")
        def chat(sid: str, m: str):
            Memory().add(sid, m)
            Fine().add(m)
            Registry.put(sid, m)
    """}, codes="AD1")
    assert sorted(codes(result)) == [("AD102", "main.py", 7, "Memory.history"),
                                     ("AD102", "main.py", 20, "Registry.store")]


def test_ad103_global_rebinding_but_not_lazy_init(scan_tree):
    result = scan_tree({"main.py": """
        from flask import Flask
        app = Flask(__name__)
        last_answer = None
        _client = None

        def client():
            global _client
            if _client is None:
                _client = object()
            return _client

        def store(answer):
            global last_answer
            last_answer = answer

        @app.route("/ask")
        def ask():
            store(client())
            return "ok"

        @app.route("/last")
        def last():
            return {"answer": last_answer}
    """}, codes="AD1")
    assert codes(result) == [("AD103", "main.py", 14, "last_answer")]


def test_ad103_silent_when_no_other_function_reads_the_global(scan_tree):
    result = scan_tree({"main.py": """
        import chainlit as cl
        transcript_id = None

        @cl.on_settings_update
        async def on_settings_update(settings):
            global transcript_id
            transcript_id = settings["transcript"]
            await cl.Message(content=f"using {transcript_id}").send()
    """}, codes="AD103")
    assert codes(result) == []


def test_ad104_cached_agent_factories(scan_tree):
    result = scan_tree({"agents.py": """
        import functools
        import streamlit as st
        from autogen_agentchat.agents import AssistantAgent
        from autogen_agentchat.teams import RoundRobinGroupChat
        from autogen_ext.models.openai import OpenAIChatCompletionClient

        @functools.lru_cache(maxsize=None)
        def get_agent(session_id: str):
            return AssistantAgent("helper", model_client=get_client())

        @st.cache_resource
        def get_team():
            team = RoundRobinGroupChat([get_agent("x")])
            return team

        @functools.cache
        def get_client():
            return OpenAIChatCompletionClient(model="gpt-4o")
    """}, codes="AD104")
    assert [(f.line, f.symbol) for f in result.findings] == [(8, "get_agent"), (12, "get_team")]
    assert "st.session_state" in result.findings[1].fix


def test_ad104_classic_aliased_import(scan_tree):
    result = scan_tree({"a.py": """
        from functools import lru_cache
        import autogen as ag

        @lru_cache
        def manager():
            chat = ag.GroupChat(agents=[], messages=[])
            return ag.GroupChatManager(groupchat=chat)
    """}, codes="AD104")
    assert [f.symbol for f in result.findings] == ["manager"]


def test_ad105_module_level_agents_used_by_handlers(scan_tree):
    result = scan_tree({
        "bots.py": """
            from autogen import AssistantAgent as A, UserProxyAgent
            from autogen_agentchat import agents
            from autogen_agentchat.teams import RoundRobinGroupChat
            helper = A("helper", llm_config=False)
            modern = agents.AssistantAgent("m", model_client=None)
            team = RoundRobinGroupChat([modern])
            proxy = UserProxyAgent("user", human_input_mode="NEVER")
        """,
        "main.py": """
            from fastapi import FastAPI
            from autogen import UserProxyAgent
            from bots import helper, proxy, team
            app = FastAPI()

            @app.post("/classic")
            def classic(msg: str):
                # kept across requests; with the default clear_history=True it is AD602 alone
                proxy.initiate_chat(helper, message=msg, clear_history=False)

            @app.post("/fresh-partner")
            def fresh_partner(msg: str):
                # classic agents keep one message list per partner: a new partner, a new thread
                user = UserProxyAgent("user", human_input_mode="NEVER")
                user.initiate_chat(helper, message=msg)

            @app.post("/modern")
            async def modern(msg: str):
                return await team.run(task=msg)
        """,
    }, codes="AD105")
    assert [(f.path, f.line, f.symbol) for f in result.findings] == [
        ("main.py", 9, "helper"), ("main.py", 9, "proxy"), ("main.py", 19, "team")]


def test_ad105_silent_for_agent_used_only_in_a_script(scan_tree):
    result = scan_tree({"demo.py": """
        import asyncio
        from autogen_agentchat.agents import AssistantAgent
        agent = AssistantAgent("a", model_client=None)

        async def main():
            await agent.run(task="hi")

        if __name__ == "__main__":
            asyncio.run(main())
    """}, codes="AD1")
    assert codes(result) == []


def test_ad106_module_runtime_and_ad107_mem0(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        from autogen_core import SingleThreadedAgentRuntime, TopicId
        from autogen_ext.memory.mem0 import Mem0Memory
        app = FastAPI()
        runtime = SingleThreadedAgentRuntime()
        memory = Mem0Memory(is_cloud=True, api_key="k")
        ok_memory = Mem0Memory(is_cloud=True, api_key="k", user_id="svc")

        @app.post("/chat")
        async def chat(sid: str, msg: str):
            await runtime.publish_message(msg, topic_id=TopicId("chat", sid))
    """}, codes="AD10")
    assert sorted((f.code, f.line) for f in result.findings) == [("AD106", 11), ("AD107", 6)]


def test_ad101_container_passed_to_a_helper_that_mutates_its_parameter(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        app = FastAPI()
        sessions = {}
        SETTINGS = {"a": 1}

        def remember(store, sid, message):
            store.setdefault(sid, []).append(message)

        def lookup(store, sid):
            return store.get(sid)

        class Recorder:
            def record(self, target, value):
                target.append(value)

        log = []

        @app.post("/chat")
        def chat(sid: str, m: str):
            remember(sessions, sid, m)
            lookup(SETTINGS, sid)
            Recorder().record(log, m)
            remember(store={}, sid=sid, message=m)
    """}, codes="AD1")
    assert codes(result) == [("AD101", "main.py", 20, "sessions"), ("AD101", "main.py", 22, "log")]
    assert "writes into its parameter `store`" in result.findings[0].message


def test_ad101_django_urlpatterns_and_flask_add_url_rule(scan_tree):
    result = scan_tree({
        "site/handlers.py": """
            from django.views.generic import View
            carts = {}
            wishes = []

            def add_to_cart(request, item):
                carts[request.user.id] = item

            class WishView(View):
                def post(self, request):
                    wishes.append(request.POST["w"])

            def helper_never_routed(x):
                carts[x] = x
        """,
        "site/urls.py": """
            from django.urls import path
            from . import handlers
            urlpatterns = [
                path("cart/<item>", handlers.add_to_cart),
                path("wish", handlers.WishView.as_view()),
            ]
        """,
        "site/__init__.py": "",
        "flaskapp.py": """
            from flask import Flask
            app = Flask(__name__)
            visits = []

            def count():
                visits.append(1)
                return "ok"

            app.add_url_rule("/count", view_func=count)
        """,
    }, codes="AD1")
    assert sorted(codes(result)) == [("AD101", "flaskapp.py", 6, "visits"),
                                     ("AD101", "site/handlers.py", 6, "carts"),
                                     ("AD101", "site/handlers.py", 10, "wishes")]


def test_ad101_per_request_hooks_are_entry_points(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI, Request
        from flask import Flask
        app = FastAPI()
        web = Flask(__name__)
        seen_paths = []
        seen_ips = set()

        @app.middleware("http")
        async def record(request: Request, call_next):
            seen_paths.append(request.url.path)
            return await call_next(request)

        @web.before_request
        def remember_ip():
            seen_ips.add("ip")

        @app.on_event("startup")
        async def warm_up():
            seen_paths.append("startup")
    """}, codes="AD1")
    assert sorted(codes(result)) == [("AD101", "main.py", 10, "seen_paths"), ("AD101", "main.py", 15, "seen_ips")]
