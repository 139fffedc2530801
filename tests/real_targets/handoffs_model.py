"""An offline stand-in for the model of the official `core_streaming_handoffs_fastapi` sample (a fake:
no LLM can run here). The sample loads it unmodified through its `model_config.yaml`:

    provider: handoffs_model.HandoffsCodewordClient

with this folder and `examples/` on PYTHONPATH. It behaves enough like the sample's gpt-4o for the
sample's own code paths to run, deterministically:

- it answers with every `adr-...` codeword it can see (`examples/codewords.py`), as a model does
  when the probe asks "list every codeword I have given you", so a lost history shows as misses;
- it streams that answer a word at a time with a pause between chunks, as a real model streams,
  so two overlapping requests really interleave in the sample's shared response queue;
- it calls the sample's tools the way its system prompts ask: the triage agent (offered
  `transfer_to_sales_agent`) hands every new user message to sales; the sales agent (offered
  `execute_order`) executes an order on every 3rd user message of the conversation and hands
  back to triage on every 4th. So conversations really move between agents and the history
  really holds tool calls and their results, as it does with the real model;
- a user message containing FAIL_PHRASE makes the call raise, as a provider error (HTTP 500, a
  content filter, a rate limit) does.
"""

from __future__ import annotations

import json
from typing import Any, AsyncGenerator, Literal, Mapping, Optional, Sequence, Union

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, LLMMessage, RequestUsage, UserMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel
from typing_extensions import Self

from codeword_model import CodewordChatCompletionClient, _text_of

FAIL_PHRASE = "please fail"


class HandoffsModelConfig(BaseModel):
    """What `model_config.yaml` may set under `config:`."""

    latency_s: float = 0.05
    chunk_delay_s: float = 0.01


def _tool_names(tools: Sequence[Tool | ToolSchema]) -> set[str]:
    return {tool.name if hasattr(tool, "name") else str(tool.get("name")) for tool in tools}  # type: ignore[union-attr]


def _tool_call(name: str, arguments: dict[str, Any], serial: int) -> CreateResult:
    call = FunctionCall(id=f"call_{name}_{serial}", arguments=json.dumps(arguments), name=name)
    return CreateResult(finish_reason="function_calls", content=[call],
                        usage=RequestUsage(prompt_tokens=0, completion_tokens=1), cached=False)


class HandoffsCodewordClient(CodewordChatCompletionClient):
    """Codeword answers, streamed in chunks, with the sample's handoffs and tool calls."""

    component_config_schema = HandoffsModelConfig  # type: ignore[assignment]

    def __init__(self, latency_s: float = 0.05, chunk_delay_s: float = 0.01) -> None:
        super().__init__(latency_s=latency_s)
        self._chunk_delay_s = chunk_delay_s
        self._calls = 0

    def _decide(self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]) -> CreateResult | None:
        """A tool call when the sample's prompts ask for one, else None (answer in text)."""
        last = messages[-1] if messages else None
        if not isinstance(last, UserMessage):
            return None  # after a tool result or a handoff: answer the user
        if FAIL_PHRASE in _text_of(last).lower():
            raise RuntimeError("offline model: simulated provider error (HTTP 500)")
        names = _tool_names(tools)
        user_turns = sum(isinstance(message, UserMessage) for message in messages)
        self._calls += 1
        if "transfer_to_sales_agent" in names:
            return _tool_call("transfer_to_sales_agent", {}, self._calls)
        if "execute_order" in names and user_turns % 4 == 0:
            return _tool_call("transfer_back_to_triage", {}, self._calls)
        if "execute_order" in names and user_turns % 3 == 0:
            return _tool_call("execute_order", {"product": "ACME Rocket Skates", "price": 99}, self._calls)
        return None

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: Optional[bool | type[BaseModel]] = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: Optional[CancellationToken] = None,
    ) -> CreateResult:
        """A tool call where the sample's prompts ask for one, else the codewords in `messages`."""
        await self._pause()
        decided = self._decide(messages, tools)
        return decided if decided is not None else self._answer(messages)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: Optional[bool | type[BaseModel]] = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: Optional[CancellationToken] = None,
    ) -> AsyncGenerator[Union[str, CreateResult], None]:
        """Text answers stream a word per chunk with a pause between chunks; tool calls stream nothing."""
        await self._pause()
        decided = self._decide(messages, tools)
        if decided is not None:
            yield decided
            return
        async for item in self._stream_answer(messages):
            yield item

    def _to_config(self) -> HandoffsModelConfig:  # type: ignore[override]
        return HandoffsModelConfig(latency_s=self._latency_s, chunk_delay_s=self._chunk_delay_s)

    @classmethod
    def _from_config(cls, config: HandoffsModelConfig) -> Self:  # type: ignore[override]
        return cls(latency_s=config.latency_s, chunk_delay_s=config.chunk_delay_s)
