"""Shapes that fired on services the rules were not tuned on: each a firing case and a clean twin.

1. AD501 on a UI framework's per-connection session map (one finding per write-back).
2. AD201 on stateless one-shot endpoints (no conversation on the request path).
3. AD602/AD103 on a module global written per request but never read by a request path.
4. A module-level classic pair run by every request: AD602 alone with the default
   `clear_history=True`; AD105 joins only when history is kept across runs.
"""


def places(result, prefix=""):
    return sorted((f.code, f.path, f.line) for f in result.findings if f.code.startswith(prefix))


# ---------- 1. AD501: framework session maps are not shared stores ----------

CHAINLIT_GROUPCHAT = """
import chainlit as cl
import autogen

@cl.on_message
async def on_message(message: cl.Message):
    admin = cl.user_session.get("admin")
    writer = cl.user_session.get("writer")
    group_chat = cl.user_session.get("group_chat")
    if group_chat is None:
        group_chat = autogen.GroupChat(agents=[admin, writer], messages=[])
        cl.user_session.set("group_chat", group_chat)
"""

REDIS_GROUPCHAT = """
import json
import chainlit as cl
import redis

store = redis.Redis()

@cl.on_message
async def on_message(message: cl.Message):
    session_id = cl.user_session.get("id")
    admin = store.get(f"admin:{session_id}")
    history = json.loads(store.get(f"chat:{session_id}") or "[]")
    history.append({"admin": admin, "content": message.content})
    store.set(f"chat:{session_id}", json.dumps(history))
"""


def test_ad501_silent_on_chainlit_user_session_get_then_set(scan_tree):
    result = scan_tree({"app.py": CHAINLIT_GROUPCHAT}, codes="AD501")
    assert places(result) == []


def test_ad501_fires_once_for_the_same_shape_on_redis(scan_tree):
    # two values read from Redis flow into one write-back: one finding, not one per variable
    result = scan_tree({"app.py": REDIS_GROUPCHAT}, codes="AD501")
    assert places(result) == [("AD501", "app.py", 13)]


def test_ad501_silent_on_streamlit_session_state(scan_tree):
    result = scan_tree({"app.py": """
        import streamlit as st

        history = st.session_state.get("history")
        history = (history or []) + [st.chat_input("say")]
        st.session_state.set("history", history)
    """}, codes="AD501")
    assert places(result) == []


# ---------- 2. AD201: one-shot endpoints stay silent ----------

ONE_SHOT_FLASK = """
import asyncio
from flask import Flask, request
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat
app = Flask(__name__)

@app.route("/start-debate", methods=["POST"])
def start_debate():
    topic = request.json["topic"]
    first = AssistantAgent("first", model_client=None)
    second = AssistantAgent("second", model_client=None)
    team = RoundRobinGroupChat([first, second])
    return str(asyncio.run(team.run(task=topic)))
"""

CONVERSATION_FLASK = """
import asyncio
from flask import Flask, request
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat
app = Flask(__name__)

@app.route("/turn", methods=["POST"])
def turn():
    session_id = request.json["session_id"]
    first = AssistantAgent("first", model_client=None)
    team = RoundRobinGroupChat([first])
    return str(asyncio.run(team.run(task=request.json["text"])))
"""


def test_ad201_silent_on_one_shot_endpoint_without_conversation(scan_tree):
    assert places(scan_tree({"app.py": ONE_SHOT_FLASK}, codes="AD201")) == []


def test_ad201_fires_when_the_request_carries_a_conversation_key(scan_tree):
    result = scan_tree({"app.py": CONVERSATION_FLASK}, codes="AD201")
    assert places(result) == [("AD201", "app.py", 11)]
    assert "session_id" in result.findings[0].message


def test_ad201_one_task_helper_vs_helper_with_a_thread_id(scan_tree):
    # the agents are built in a helper; only the request path's parameters differ
    helper = """
        from autogen_agentchat.agents import AssistantAgent
        from autogen_agentchat.teams import RoundRobinGroupChat

        async def setup_team():
            agent = AssistantAgent("notion", model_client=None)
            return RoundRobinGroupChat([agent])
    """
    one_shot = scan_tree({"team.py": helper, "api.py": """
        from fastapi import FastAPI
        from team import setup_team
        app = FastAPI()

        @app.post("/run")
        async def run_task(task: str):
            team = await setup_team()
            return await team.run(task=task)
    """}, codes="AD201")
    assert places(one_shot) == []
    threaded = scan_tree({"team.py": helper, "api.py": """
        from fastapi import FastAPI
        from team import setup_team
        app = FastAPI()

        @app.post("/run")
        async def run_task(thread_id: str, task: str):
            team = await setup_team()
            return await team.run(task=task)
    """}, codes="AD201")
    assert places(threaded) == [("AD201", "api.py", 7)]


def test_ad201_chainlit_chat_start_demo_vs_on_message(scan_tree):
    head = """
        import chainlit as cl
        from autogen import AssistantAgent, UserProxyAgent
        TASK = "Plot NVDA stock price"
    """
    demo = scan_tree({"demo.py": head + """
        @cl.on_chat_start
        async def start():
            assistant = AssistantAgent("assistant", llm_config=False)
            proxy = UserProxyAgent("proxy", human_input_mode="NEVER")
            await proxy.a_initiate_chat(assistant, message=TASK)
    """}, codes="AD201")
    assert places(demo) == []
    per_message = scan_tree({"demo.py": head + """
        @cl.on_message
        async def on_message(message: cl.Message):
            assistant = AssistantAgent("assistant", llm_config=False)
            proxy = UserProxyAgent("proxy", human_input_mode="NEVER")
            await proxy.a_initiate_chat(assistant, message=message.content)
    """}, codes="AD201")
    assert [code for code, *_ in places(per_message)] == ["AD201"]


def test_ad201_client_history_field_counts_as_a_conversation(scan_tree):
    result = scan_tree({"api.py": """
        from fastapi import FastAPI
        from autogen_agentchat.agents import AssistantAgent
        app = FastAPI()

        @app.post("/v1/completions")
        async def complete(body: dict):
            agent = AssistantAgent("a", model_client=None)
            return await agent.run(task=body["messages"][-1])
    """}, codes="AD201")
    assert places(result) == [("AD201", "api.py", 7)]


# ---------- 3. a global written per request but never read ----------

LAST_TEAM = """
import chainlit as cl
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat

last_team = None

@cl.on_message
async def on_message(message: cl.Message):
    global last_team
    team = RoundRobinGroupChat([AssistantAgent("a", model_client=None)])
    last_team = team
    await team.run(task=message.content)
"""


def test_global_written_per_request_and_never_read_is_not_shared(scan_tree):
    result = scan_tree({"app.py": LAST_TEAM})
    assert places(result, "AD6") == [] and places(result, "AD103") == []


def test_global_written_per_request_and_read_by_another_request_is_shared(scan_tree):
    result = scan_tree({"app.py": LAST_TEAM + """
@cl.on_stop
async def on_stop():
    await last_team.reset()
"""})
    assert ("AD602", "app.py", 11) in places(result)
    assert ("AD103", "app.py", 11) in places(result)


def test_nonlocal_is_not_a_module_global(scan_tree):
    result = scan_tree({"app.py": """
        import chainlit as cl
        from autogen_agentchat.agents import AssistantAgent

        agent = None

        @cl.on_message
        async def on_message(message: cl.Message):
            agent = None

            def build():
                nonlocal agent
                agent = AssistantAgent("a", model_client=None)

            build()
            await agent.run(task=message.content)
    """})
    assert places(result, "AD103") == [] and places(result, "AD602") == []


# ---------- 4. module-level classic pair run by every request ----------

PAIR = """
from autogen import AssistantAgent, UserProxyAgent
from flask import Flask, request
app = Flask(__name__)

assistant = AssistantAgent("assistant", llm_config=False)
user_proxy = UserProxyAgent("user_proxy", human_input_mode="NEVER")

@app.post("/prompt")
def prompt():
    user_proxy.initiate_chat(assistant, message=request.json["prompt"]{extra})
    return user_proxy.chat_messages[assistant]
"""


def test_module_pair_with_default_clear_history_is_one_shared_conversation_only(scan_tree):
    result = scan_tree({"app.py": PAIR.replace("{extra}", "")})
    assert [code for code, *_ in places(result, "AD1")] == []
    assert [code for code, *_ in places(result, "AD6")] == ["AD602"]


def test_module_pair_keeping_history_is_also_process_state(scan_tree):
    result = scan_tree({"app.py": PAIR.replace("{extra}", ", clear_history=False")})
    assert sorted({code for code, *_ in places(result, "AD105")}) == ["AD105"]
    assert [code for code, *_ in places(result, "AD6")] == ["AD602"]
