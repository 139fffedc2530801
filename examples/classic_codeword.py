"""The offline "model" for the classic `autogen` API: a reply function, no LLM, no API key.

Register it on a `ConversableAgent` built with `llm_config=False`:

    assistant.register_reply([ConversableAgent, None], codeword_reply)

It answers from the messages the agent holds for the sender (`chat_messages[sender]`, which is
what the classic API passes to reply functions), listing every codeword in them.
"""

from __future__ import annotations

from typing import Any

from codewords import answer


def codeword_reply(
    recipient: Any, messages: list[dict[str, Any]] | None = None, sender: Any = None, config: Any = None
) -> tuple[bool, str]:
    """A classic-API reply function: (final, reply) listing the codewords in `messages`."""
    texts = [str(message.get("content") or "") if isinstance(message, dict) else str(message)
             for message in messages or []]
    return True, answer(texts)
