"""AD6xx: one conversation for every user. Fixed files and keys (AD601), shared agents (AD602),
and the per-session look-alikes that must stay silent."""

import json
import subprocess
import sys


def found(result):
    return sorted((f.code, f.path, f.line, f.severity.value) for f in result.findings)


FIXED_FILE = """
    import json, os
    import aiofiles
    from fastapi import FastAPI
    from autogen_agentchat.agents import AssistantAgent
    app = FastAPI()
    STATE_DIR = os.getenv("STATE_DIR", "data")
    state_path = os.path.join(STATE_DIR, "agent_state.json")

    async def get_agent():
        agent = AssistantAgent("assistant", model_client=None)
        if os.path.exists(state_path):
            async with aiofiles.open(state_path, "r") as file:
                await agent.load_state(json.loads(await file.read()))
        return agent

    @app.post("/chat")
    async def chat(message: str):
        agent = await get_agent()
        await agent.run(task=message)
        async with aiofiles.open(state_path, "w") as file:
            await file.write(json.dumps(await agent.save_state()))
"""


def test_ad601_fixed_state_file_through_getenv_default_and_join(scan_tree):
    result = scan_tree({"app.py": FIXED_FILE}, codes="AD6")
    assert found(result) == [("AD601", "app.py", 20, "error")]
    finding = result.findings[0]
    assert finding.symbol == "data/agent_state.json"
    assert [(step.path, step.line) for step in finding.trace] == [
        ("app.py", 17), ("app.py", 20), ("app.py", 12), ("app.py", 7)]


def test_ad601_silent_when_the_path_carries_the_session(scan_tree):
    keyed = FIXED_FILE.replace('state_path = os.path.join(STATE_DIR, "agent_state.json")', "").replace(
        "async def get_agent():", "async def get_agent(state_path):").replace(
        "async def chat(message: str):", "async def chat(session_id: str, message: str):\n"
        "        state_path = os.path.join(STATE_DIR, f\"{session_id}.json\")").replace(
        "await get_agent()", "await get_agent(state_path)")
    result = scan_tree({"app.py": keyed}, codes="AD6")
    assert found(result) == []


def test_ad601_fixed_redis_key_and_silent_twins(scan_tree):
    result = scan_tree({
        "store.py": """
            import json
            import redis
            client = redis.Redis()
            HISTORY_KEY = "chat_history"

            def load():
                return json.loads(client.get(HISTORY_KEY) or "[]")

            def save(history):
                client.set(HISTORY_KEY, json.dumps(history))

            def load_settings():
                return client.get("settings")          # read only: configuration

            def bump(session_id):
                client.set(f"history:{session_id}", 1)  # per session
                return client.get(f"history:{session_id}")
        """,
        "web.py": """
            from flask import Flask, request
            from store import load, save, load_settings, bump
            app = Flask(__name__)
            cache = {}

            @app.post("/chat")
            def chat():
                history = load()
                history.append(request.json["message"])
                save(history)
                load_settings()
                bump(request.json["session_id"])
                cache.get("chat_history")            # a dict, not a store client
                return "ok"
        """,
    }, codes="AD6")
    assert found(result) == [("AD601", "store.py", 10, "error")]


def test_ad602_module_agent_cached_factory_and_global_rebinding(scan_tree):
    result = scan_tree({
        "shared.py": """
            from fastapi import FastAPI
            from autogen_agentchat.agents import AssistantAgent
            app = FastAPI()
            assistant = AssistantAgent("assistant", model_client=None)

            @app.post("/chat")
            async def chat(message: str):
                return await assistant.run(task=message)
        """,
        "ui.py": """
            import streamlit as st
            from autogen_agentchat.agents import AssistantAgent

            @st.cache_resource
            def get_agent():
                return AssistantAgent("assistant", model_client=None)

            agent = get_agent()
            if prompt := st.chat_input():
                agent.run(task=prompt)
        """,
        "gr.py": """
            import gradio as gr
            from autogen import AssistantAgent
            assistant = None

            def set_document(url):
                global assistant
                assistant = AssistantAgent("rag", llm_config={"context": url})

            def respond(message, history):
                return assistant.generate_reply(messages=[{"role": "user", "content": message}])

            gr.ChatInterface(respond)
            gr.Textbox().submit(set_document)
        """,
    }, codes="AD6")
    assert found(result) == [("AD602", "gr.py", 7, "error"), ("AD602", "shared.py", 4, "error"),
                             ("AD602", "ui.py", 5, "error")]


def test_ad602_silent_on_per_session_and_per_partner_uses(scan_tree):
    result = scan_tree({
        "classic.py": """
            from flask import Flask, request
            from autogen import AssistantAgent, UserProxyAgent, GroupChat, GroupChatManager
            app = Flask(__name__)
            expert = AssistantAgent("expert", llm_config={})
            answerer = AssistantAgent("answerer", llm_config={})

            @app.post("/ask")
            def ask():
                proxy = UserProxyAgent("proxy")               # a new partner: a new message list
                proxy.initiate_chat(expert, message=request.json["q"])
                chat = GroupChat(agents=[expert, proxy], messages=[])
                manager = GroupChatManager(groupchat=chat)
                # the messages are given; nothing is stored in the agent
                return answerer.generate_reply(messages=[{"role": "user", "content": "x"}])
        """,
        "ui.py": """
            import streamlit as st
            from autogen_agentchat.agents import AssistantAgent

            @st.cache_resource
            def get_agent(session_id):             # one per session
                return AssistantAgent("assistant", model_client=None)

            if "agent" not in st.session_state:
                st.session_state.agent = AssistantAgent("assistant", model_client=None)
            agent = AssistantAgent("rebuilt", model_client=None)   # the script's own: rebuilt every rerun
            agent.run(task="hi")
        """,
    }, codes="AD6")
    assert found(result) == []


HISTORY_GLOBAL = """
    from flask import Flask, request
    from autogen import AssistantAgent, UserProxyAgent
    app = Flask(__name__)
    {name} = {initial}

    def load():
        return {name}

    def save(history):
        global {name}
        {name} = history

    @app.post("/chat")
    def chat():
        history = load()
        user = UserProxyAgent("user")
        helper = AssistantAgent("helper", llm_config={{}})
        user.initiate_chat(helper, message=request.json["message"], clear_history=False)
        save(history + helper.chat_messages[user])
        return "ok"
"""


def test_ad602_module_history_replaced_whole_by_a_request(scan_tree):
    """A global named as the conversation's history that a request replaces whole and another
    request path reads: one history for every user."""
    for name in ("message_history", "chat_history", "conversation", "messages"):
        result = scan_tree({"app.py": HISTORY_GLOBAL.format(name=name, initial="[]")}, codes="AD602")
        assert found(result) == [("AD602", "app.py", 11, "error")], name
        assert "one history" in result.findings[0].message


def test_ad602_silent_for_other_globals_and_write_only_history(scan_tree):
    # not a history by name: AD103 says it is per process, but nothing says it is a conversation
    other = HISTORY_GLOBAL.format(name="settings", initial="{}")
    assert found(scan_tree({"app.py": other}, codes="AD602")) == []
    # written per request but never read by one: nobody continues from it
    write_only = HISTORY_GLOBAL.format(name="chat_history", initial="[]").replace(
        "history = load()", "history = []")
    assert found(scan_tree({"app.py": write_only}, codes="AD602")) == []


def test_ad601_silent_when_nothing_in_the_service_calls_the_writer(scan_tree):
    """A fixed file read on a request path but written only by a method nothing calls (a legacy
    repository class) is a static file, not a shared conversation; once something calls the
    writer, it is one."""
    repository = """
        import json, os

        class HistoryFile:
            def __init__(self):
                self.path = "team_history.json"

            def load(self):
                if not os.path.exists(self.path):
                    return []
                with open(self.path) as file:
                    return json.load(file)

            def save(self, history):
                with open(self.path, "w") as file:
                    json.dump(history, file)
    """
    route = """
        from fastapi import FastAPI
        from repository import HistoryFile
        app = FastAPI()
        files = HistoryFile()

        @app.get("/history")
        def history():
            return files.load()
        {more}
    """
    quiet = scan_tree({"repository.py": repository, "app.py": route.replace("{more}", "")}, codes="AD601")
    assert found(quiet) == []
    called = route.replace("{more}", "\n        def nightly_import(rows):\n            files.save(rows)\n")
    loud = scan_tree({"repository.py": repository, "app.py": called}, codes="AD601")
    assert [(code, path) for code, path, _, _ in found(loud)] == [("AD601", "repository.py")]


def test_ad6_in_explain_sarif_and_probe_link(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "autogen_doctor", "explain", "AD601"],
                               capture_output=True, text=True)
    assert completed.returncode == 0 and "Why is this bad?" in completed.stdout
    from autogen_doctor.probe.link import CAUSE_FAMILIES
    assert "AD6" in CAUSE_FAMILIES["cross-session-leak"]
    from support.files import write_tree
    write_tree(tmp_path, {"app.py": FIXED_FILE})
    sarif = subprocess.run([sys.executable, "-m", "autogen_doctor", "scan", ".", "--no-cache", "--select", "AD601",
                            "--format", "sarif"], cwd=tmp_path, capture_output=True, text=True)
    document = json.loads(sarif.stdout)
    result = document["runs"][0]["results"][0]
    assert result["ruleId"] == "AD601" and result["level"] == "error"
    assert len(result["codeFlows"][0]["threadFlows"][0]["locations"]) == 4
