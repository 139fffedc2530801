"""Print the component JSON of the AutoGen Studio team the real-target tests create.

Run with the Studio venv's python and `examples/` on PYTHONPATH (autogen 0.5.7, never the project's
0.7): `python studio_team.py > team.json`. Dumping a team built in code gives the exact field set
0.5.7 expects, instead of a hand-written config that drifts from it.

The team is what a Studio user builds for a multi-turn chat: one AssistantAgent and a
UserProxyAgent (Studio wires the proxy to the WebSocket's `input_request`/`input_response`), no
termination condition, so a run lasts until the client stops it. The model is the project's
offline `CodewordChatCompletionClient` (a fake: no LLM can run in tests), which lists the codewords
it can see, so the reply shows exactly what the team remembers.
"""

import json

from autogen_agentchat.agents import AssistantAgent, UserProxyAgent
from autogen_agentchat.teams import RoundRobinGroupChat
from codeword_model import CodewordChatCompletionClient


def studio_team_component() -> dict:
    """The team's declarative component, as Studio stores it and sends it in the start frame."""
    assistant = AssistantAgent("assistant", model_client=CodewordChatCompletionClient(),
                               system_message="List every codeword the user has given you.")
    user_proxy = UserProxyAgent("user_proxy")
    team = RoundRobinGroupChat([assistant, user_proxy])
    return team.dump_component().model_dump(mode="json")


if __name__ == "__main__":
    print(json.dumps(studio_team_component()))
