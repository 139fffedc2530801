"""The offline codeword model (examples/codeword_model.py) for an agent that has tools.

The official `agentchat_chainlit/app_agent.py` gives its agent a `get_weather` tool, and
autogen-agentchat 0.7 refuses a model without function calling. This client says it can call
functions; it never does (it only lists the codewords it sees), which is all the probe needs.
It is loaded by the sample's own `ChatCompletionClient.load_component(model_config)` from the
`model_config.yaml` the test writes: only the sample's configuration changes, not its code.
"""

from autogen_core.models import ModelFamily, ModelInfo
from codeword_model import CodewordChatCompletionClient


class ToolReadyCodewordClient(CodewordChatCompletionClient):
    """`CodewordChatCompletionClient` that reports function calling, so agents with tools accept it."""

    component_provider_override = "chainlit_codeword_model.ToolReadyCodewordClient"

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(vision=False, function_calling=True, json_output=False, family=ModelFamily.UNKNOWN,
                         structured_output=False)
