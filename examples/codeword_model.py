"""A deterministic, offline AutoGen model client for the examples: no LLM, no API key.

`CodewordChatCompletionClient` answers every request by listing each `adr-...` codeword it can
see in the messages it was given, in order of first appearance. That is exactly what a real LLM
does when `autogen-doctor probe` asks "list every codeword I have given you so far": if the
agent's history was lost, the lost codewords are missing from the reply.

It implements autogen_core's `ChatCompletionClient` in full (create, create_stream, usage and
token counting, model_info) and is a declarative `Component`, so agents and teams built with it
can be dumped with `dump_component()` like any other.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, AsyncGenerator, Literal, Mapping, Optional, Sequence, Union

from autogen_core import CancellationToken, Component
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,  # type: ignore[attr-defined]
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel
from typing_extensions import Self

from codewords import answer


class CodewordModelConfig(BaseModel):
    """Configuration of the codeword model (what `dump_component()` writes)."""

    context_window: int = 128_000
    latency_s: float = 0.0


def _text_of(message: LLMMessage) -> str:
    """The plain text of one message; function calls and images count by their text parts."""
    content: Any = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in content:
        if isinstance(item, str):
            parts.append(item)
        elif hasattr(item, "content") and isinstance(item.content, str):  # FunctionExecutionResult
            parts.append(item.content)
        elif hasattr(item, "arguments"):  # FunctionCall
            parts.append(str(item.arguments))
    return "\n".join(parts)


def _count_words(messages: Sequence[LLMMessage]) -> int:
    # A word is close enough to a token for usage accounting in a model that has no tokenizer.
    return sum(len(_text_of(message).split()) for message in messages)


class CodewordChatCompletionClient(ChatCompletionClient, Component[CodewordModelConfig]):
    """A `ChatCompletionClient` that lists the codewords in its context. Deterministic; offline."""

    component_type = "model"
    component_config_schema = CodewordModelConfig

    def __init__(self, context_window: int = 128_000, latency_s: float | None = None) -> None:
        """`latency_s` makes every answer take that long, like a real model call does.

        Default: `$CODEWORD_LATENCY_S`, else 0 (tests set it so that overlapping turns overlap).
        """
        self._context_window = context_window
        self._latency_s = float(os.environ.get("CODEWORD_LATENCY_S", "0")) if latency_s is None else latency_s
        self._last_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

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
        """Answer `messages` with the list of codewords they contain (tools are never called)."""
        await self._pause()
        return self._answer(messages)

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
        """Stream the same answer as `create`, a word at a time, then the final result."""
        await self._pause()
        async for item in self._stream_answer(messages):
            yield item

    # Building blocks for subclasses that answer some calls otherwise (tool calls, errors).
    _chunk_delay_s = 0.0  # pause before each streamed word

    async def _pause(self) -> None:
        """The model's thinking time (`latency_s`)."""
        if self._latency_s > 0:
            await asyncio.sleep(self._latency_s)

    def _answer(self, messages: Sequence[LLMMessage]) -> CreateResult:
        """The codeword answer to `messages`, counted in the usage totals."""
        reply = answer(_text_of(message) for message in messages)
        usage = RequestUsage(prompt_tokens=_count_words(messages), completion_tokens=len(reply.split()))
        self._last_usage = usage
        self._total_usage = RequestUsage(
            prompt_tokens=self._total_usage.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._total_usage.completion_tokens + usage.completion_tokens,
        )
        return CreateResult(finish_reason="stop", content=reply, usage=usage, cached=False)

    async def _stream_answer(self, messages: Sequence[LLMMessage]) -> AsyncGenerator[Union[str, CreateResult], None]:
        """`_answer` a word per chunk (`_chunk_delay_s` apart), then the final result."""
        result = self._answer(messages)
        words = str(result.content).split(" ")
        for index, word in enumerate(words):
            if self._chunk_delay_s > 0:
                await asyncio.sleep(self._chunk_delay_s)
            yield word if index == len(words) - 1 else word + " "
        yield result

    async def close(self) -> None:
        """Nothing to release: the model holds no connection."""

    def actual_usage(self) -> RequestUsage:
        return self._last_usage

    def total_usage(self) -> RequestUsage:
        return self._total_usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return _count_words(messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return max(0, self._context_window - self.count_tokens(messages, tools=tools))

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        return ModelCapabilities(vision=False, function_calling=False, json_output=False)  # type: ignore[typeddict-item]

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False,
            function_calling=False,
            json_output=False,
            family=ModelFamily.UNKNOWN,
            structured_output=False,
        )

    def _to_config(self) -> CodewordModelConfig:
        return CodewordModelConfig(context_window=self._context_window, latency_s=self._latency_s)

    @classmethod
    def _from_config(cls, config: CodewordModelConfig) -> Self:
        return cls(context_window=config.context_window, latency_s=config.latency_s)
