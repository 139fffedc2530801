"""AD2xx: agents built per request with no history restored."""


def found(result):
    return [(f.code, f.path, f.line, f.symbol) for f in result.findings]


AGENTCHAT_HEAD = """
from fastapi import FastAPI
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat
app = FastAPI()
client = None
"""


def test_ad201_fires_for_fresh_agent_run_per_request(scan_tree):
    result = scan_tree({"main.py": AGENTCHAT_HEAD + """
@app.post("/chat")
async def chat(msg: str):
    agent = AssistantAgent("assistant", model_client=client)
    result = await agent.run(task=msg)
    return result.messages[-1].content
"""}, codes="AD2")
    assert found(result) == [("AD201", "main.py", 9, "agent")]
    assert "load_state" in result.findings[0].fix


def test_ad201_reports_history_loaded_but_not_given(scan_tree):
    result = scan_tree({"main.py": AGENTCHAT_HEAD + """
import redis.asyncio as redis
store = redis.Redis()

@app.post("/chat")
async def chat(sid: str, msg: str):
    history = await store.lrange(sid, 0, -1)
    team = RoundRobinGroupChat([AssistantAgent("a", model_client=client)])
    result = await team.run(task=msg)
    await store.rpush(sid, msg)
    return result
"""}, codes="AD2")
    assert [c for c, *_ in found(result)] == ["AD201"]
    assert "history is loaded into `history`" in result.findings[0].message


def test_ad201_silent_when_history_restored(scan_tree):
    result = scan_tree({"main.py": AGENTCHAT_HEAD + """
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_agentchat.messages import TextMessage

@app.post("/a")
async def a(sid: str, msg: str):
    agent = AssistantAgent("assistant", model_client=client)
    await agent.load_state(await load(sid))
    return await agent.run(task=msg)

@app.post("/b")
async def b(sid: str, msg: str):
    history = await load(sid)
    agent = AssistantAgent("assistant", model_client=client)
    return await agent.run(task=[TextMessage(content=m, source="user") for m in history] + [msg])

@app.post("/c")
async def c(sid: str, msg: str):
    context = BufferedChatCompletionContext(buffer_size=20, initial_messages=await load(sid))
    agent = AssistantAgent("assistant", model_client=client, model_context=context)
    return await agent.run(task=msg)

@app.post("/d")
async def d(sid: str, msg: str):
    team = RoundRobinGroupChat([AssistantAgent("x", model_client=client)])
    await restore_into(team, sid)
    return await team.run(task=msg)

@app.post("/e")
async def e(req: dict):
    agent = AssistantAgent("assistant", model_client=client)
    return await agent.run(task=req["messages"])

async def load(sid): return []
async def restore_into(team, sid): ...
"""}, codes="AD2")
    assert found(result) == []


def test_ad201_factory_with_and_without_restore(scan_tree):
    result = scan_tree({
        "factory.py": """
            from autogen_agentchat.agents import AssistantAgent

            def build():
                return AssistantAgent("a", model_client=None)

            async def build_for(sid, store):
                agent = AssistantAgent("a", model_client=None)
                await agent.load_state(await store.get(sid))
                return agent
        """,
        "main.py": """
            from flask import Flask
            from factory import build, build_for
            app = Flask(__name__)

            @app.post("/one")
            async def one(session_id: str):
                agent = build()
                return await agent.run(task="hi")

            @app.post("/two")
            async def two():
                agent = await build_for("s", None)
                return await agent.run(task="hi")
        """,
    }, codes="AD2")
    assert found(result) == [("AD201", "main.py", 7, "agent")]


def test_ad201_classic_groupchat_fresh_vs_seeded(scan_tree):
    result = scan_tree({"main.py": """
        from fastapi import FastAPI
        import autogen as ag
        from autogen import GroupChat, GroupChatManager, UserProxyAgent
        app = FastAPI()

        @app.post("/fresh")
        def fresh(msg: str, session_id: str):
            user = UserProxyAgent("user", human_input_mode="NEVER")
            helper = ag.AssistantAgent("helper", llm_config=False)
            chat = GroupChat(agents=[user, helper], messages=[])
            manager = GroupChatManager(groupchat=chat)
            user.initiate_chat(manager, message=msg)

        @app.post("/seeded")
        def seeded(msg: str, history: list):
            user = UserProxyAgent("user", human_input_mode="NEVER")
            helper = ag.AssistantAgent("helper", llm_config=False)
            chat = GroupChat(agents=[user, helper], messages=history)
            manager = GroupChatManager(groupchat=chat)
            manager.resume(messages=history)
            user.initiate_chat(manager, message=msg, clear_history=False)

        @app.post("/reply")
        def reply(msg: str, history: list):
            helper = ag.AssistantAgent("helper", llm_config=False)
            return helper.generate_reply(messages=history + [{"role": "user", "content": msg}])
    """}, codes="AD2")
    assert found(result) == [("AD201", "main.py", 10, "chat")]
    assert "GroupChat" in result.findings[0].fix


def test_ad201_silent_in_one_off_script(scan_tree):
    result = scan_tree({"script.py": """
        import asyncio
        from autogen_agentchat.agents import AssistantAgent

        async def main():
            agent = AssistantAgent("a", model_client=None)
            print(await agent.run(task="hello"))

        if __name__ == "__main__":
            asyncio.run(main())
    """}, codes="AD2")
    assert found(result) == []


def test_ad202_team_from_component_config(scan_tree):
    result = scan_tree({"studio.py": """
        import json
        from fastapi import FastAPI
        from autogen_agentchat.teams import RoundRobinGroupChat
        from autogen_agentchat.base import Team
        app = FastAPI()

        @app.post("/run")
        async def run(msg: str):
            team = Team.load_component(json.load(open("team.json")))
            return await team.run(task=msg)

        @app.post("/resume")
        async def resume(sid: str, msg: str):
            team = RoundRobinGroupChat.load_component(CONFIG)
            await team.load_state(STATES[sid])
            return await team.run(task=msg)
    """}, codes="AD2")
    assert found(result) == [("AD202", "studio.py", 9, "team")]


def test_ad203_saving_state_of_agents_without_history(scan_tree):
    result = scan_tree({"main.py": """
        from autogen_agentchat.agents import CodeExecutorAgent, AssistantAgent
        from autogen_ext.agents.file_surfer import FileSurfer

        async def persist(store, executor_cfg):
            executor = CodeExecutorAgent("exec", code_executor=executor_cfg)
            surfer = FileSurfer("files", model_client=None)
            helper = AssistantAgent("helper", model_client=None)
            await store.set("e", await executor.save_state())
            await store.set("f", await surfer.save_state())
            await store.set("h", await helper.save_state())
    """}, codes="AD2")
    assert [(f.code, f.line, f.symbol) for f in result.findings] == [("AD203", 8, "executor"), ("AD203", 9, "surfer")]


def test_ad204_load_state_not_awaited(scan_tree):
    result = scan_tree({"main.py": """
        import asyncio
        from autogen_agentchat.agents import AssistantAgent

        async def restore(agent, saved):
            agent.load_state(saved)
            await agent.load_state(saved)
            task = asyncio.create_task(agent.load_state(saved))
            return agent.load_state(saved)
    """, "classic.py": """
        class Thing:
            def load_state(self, s): ...

        def f(t: Thing):
            t.load_state({})
    """, "tool.py": """
        from autogen_core.tools import BaseToolWithState

        class Counter(BaseToolWithState):
            def load_state(self, state): ...

            async def load_state_json(self, state):
                self.load_state(state)

        def restore(tool, state):
            tool.load_state(state)
    """}, codes="AD2")
    assert [(f.code, f.path, f.line) for f in result.findings] == [("AD204", "main.py", 5)]


def test_ad201_silent_for_agent_kept_per_session_which_is_ad101(scan_tree):
    result = scan_tree({"main.py": AGENTCHAT_HEAD + """
sessions: dict = {}

@app.post("/chat")
async def chat(sid: str, msg: str):
    agent = sessions.get(sid)
    if agent is None:
        agent = AssistantAgent("assistant", model_client=client)
        sessions[sid] = agent
    return await agent.run(task=msg)
"""})
    assert [f.code for f in result.findings] == ["AD101"]
