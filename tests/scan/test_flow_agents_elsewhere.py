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
