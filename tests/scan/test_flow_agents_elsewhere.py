"""AD2 when the agents are built somewhere else: factories (also returning pairs), wrapper
classes that build agents on `self` and run them, and client-sent history cut to `[-1]`."""


def found(result):
    return sorted((f.code, f.path, f.line) for f in result.findings)


WORKFLOW = """
    from autogen import ConversableAgent, GroupChat, GroupChatManager, UserProxyAgent

    class Workflow:
        def __init__(self, history=None):
            self.user = UserProxyAgent("user", human_input_mode="NEVER")
            self.poet = ConversableAgent("poet", llm_config={})
            self.chat = GroupChat(agents=[self.user, self.poet], messages=history or [])
            self.manager = GroupChatManager(groupchat=self.chat)

        def run(self, message):
            return self._chat(message)

        def _chat(self, message):
            return self.user.initiate_chat(self.manager, message=message)
"""


def test_wrapper_class_built_per_request_and_only_the_last_client_message(scan_tree):
    result = scan_tree({
        "workflow.py": WORKFLOW,
        "api.py": """
            from fastapi import FastAPI
            from workflow import Workflow
            app = FastAPI()

            @app.post("/v1/chat/completions")
            def complete(body: dict):
                workflow = Workflow()
                return workflow.run(body["messages"][-1])
        """,
    }, codes="AD2")
    assert found(result) == [("AD201", "api.py", 7)]
    finding = result.findings[0]
    assert "`Workflow`" in finding.message
    assert ("workflow.py", 8) in [(step.path, step.line) for step in finding.trace]


def test_wrapper_class_given_the_whole_client_history_is_silent(scan_tree):
    result = scan_tree({
        "workflow.py": WORKFLOW,
        "api.py": """
            from fastapi import FastAPI
            from workflow import Workflow
            app = FastAPI()

            @app.post("/v1/chat/completions")
            def complete(body: dict):
                workflow = Workflow(history=body["messages"][:-1])
                return workflow.run(body["messages"][-1])
        """,
    }, codes="AD2")
    assert found(result) == []


def test_factory_returning_a_pair_unpacked_in_the_handler(scan_tree):
    result = scan_tree({
        "factory.py": """
            from autogen import AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent

            def build_pair():
                proxy = UserProxyAgent("proxy")
                chat = GroupChat(agents=[proxy, AssistantAgent("a", llm_config={})], messages=[])
                return proxy, GroupChatManager(groupchat=chat)
        """,
        "tasks.py": """
            from celery import shared_task
            from factory import build_pair

            @shared_task
            def answer(conversation_id, message):
                proxy, manager = build_pair()
                return proxy.initiate_chat(manager, message=message)
        """,
    }, codes="AD2")
    assert found(result) == [("AD201", "tasks.py", 6)]


def test_factory_pair_with_history_resumed_is_silent(scan_tree):
    result = scan_tree({
        "factory.py": """
            from autogen import GroupChat, GroupChatManager, UserProxyAgent

            def build_pair():
                proxy = UserProxyAgent("proxy")
                return proxy, GroupChatManager(groupchat=GroupChat(agents=[proxy], messages=[]))
        """,
        "tasks.py": """
            from celery import shared_task
            from factory import build_pair
            from store import load_history

            @shared_task
            def answer(conversation_id, message):
                history = load_history(conversation_id)
                proxy, manager = build_pair()
                manager.resume(messages=history)
                return proxy.initiate_chat(manager, message=message, clear_history=False)
        """,
        "store.py": "def load_history(conversation_id):\n    return []\n",
    }, codes="AD2")
    assert found(result) == []


PROVIDER = """
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.teams import RoundRobinGroupChat, SelectorGroupChat

    class Provider:
        def load_team(self, spec):
            team = None
            agents = [AssistantAgent(name, model_client=None) for name in spec["agents"]]
            if spec["kind"] == "round":
                team = RoundRobinGroupChat(agents)
            else:
                team = SelectorGroupChat(agents)
            return team
"""

ROUTE = """
    from fastapi import FastAPI
    from manager import TeamManager
    app = FastAPI()
    manager = TeamManager()

    @app.post("/generate")
    async def generate(session_id: str, prompt: str):
        return [message async for message in manager.run_stream(prompt)]
"""


def _manager(init: str, build: str = "team = self.provider.load_team({'agents': ['a'], 'kind': 'round'})") -> str:
    return f"""
        from provider import Provider

        class TeamManager:
            {init}

            async def run_stream(self, task):
                {build}
                async for message in team.run_stream(task=task):
                    yield message
    """


def test_factory_method_of_an_object_the_class_keeps_on_self(scan_tree):
    """`self.provider.load_team(...)`: the attribute holds a `Provider` made in `__init__`, or one
    passed in through an `__init__` parameter annotated with the class."""
    for init in ("def __init__(self):\n                self.provider = Provider()",
                 "def __init__(self, provider: Provider = None):\n                self.provider = provider"):
        result = scan_tree({"provider.py": PROVIDER, "manager.py": _manager(init), "app.py": ROUTE}, codes="AD2")
        assert found(result) == [("AD201", "manager.py", 8)], init
        assert ("provider.py", 5) in [(step.path, step.line) for step in result.findings[0].trace]


def test_attribute_that_may_hold_two_classes_or_restores_is_not_guessed(scan_tree):
    two = ("def __init__(self, fast=False):\n                self.provider = Provider()\n"
           "                if fast:\n                    self.provider = Other()")
    files = {"provider.py": PROVIDER + "\n    class Other(Provider):\n        pass\n",
             "manager.py": _manager(two).replace("from provider import Provider", "from provider import Other, Provider"),
             "app.py": ROUTE}
    assert found(scan_tree(files, codes="AD2")) == []
    restored = _manager("def __init__(self):\n                self.provider = Provider()",
                        "team = self.provider.load_team({'agents': ['a'], 'kind': 'round'})\n"
                        "                await team.load_state(await load_saved(task))")
    files = {"provider.py": PROVIDER, "manager.py": "from store import load_saved\n" + restored.strip("\n"),
             "store.py": "async def load_saved(key):\n    return {}\n", "app.py": ROUTE}
    assert found(scan_tree(files, codes="AD2")) == []


def test_classic_agents_given_their_message_lists_back_are_restored(scan_tree):
    """Setting a fresh agent's `_oai_messages` (or `chat_messages`) from stored messages before
    `initiate_chat(..., clear_history=False)` restores the conversation; an empty one does not."""
    route = """
        from flask import Flask, request
        from autogen import AssistantAgent, GroupChat, GroupChatManager, UserProxyAgent
        from store import load
        app = Flask(__name__)

        @app.route("/chat", methods=["POST"])
        def chat():
            user = UserProxyAgent("user", human_input_mode="NEVER")
            helper = AssistantAgent("helper", llm_config={})
            manager = GroupChatManager(groupchat=GroupChat(agents=[user, helper], messages=[]))
            history = load(request.json["session_id"])
            {restore}
            user.initiate_chat(manager, message=request.json["message"], clear_history=False)
            return "ok"
    """
    store = "def load(session_id):\n    return {'user': [], 'helper': []}\n"
    for restore in ("user._oai_messages = {manager: history['user']}",
                    "helper.chat_messages[manager] = history['helper']"):
        result = scan_tree({"app.py": route.replace("{restore}", restore), "store.py": store}, codes="AD201")
        assert found(result) == [], restore
    fresh = route.replace("{restore}", "user._oai_messages = {manager: []}")
    assert [code for code, _, _ in found(scan_tree({"app.py": fresh, "store.py": store}, codes="AD201"))] == ["AD201"]
