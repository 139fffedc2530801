"""Frame scripts replaying what real services send (shared WEBSOCKET.md sections 1, 2, 5)."""

from __future__ import annotations

import asyncio
import json
import re

CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")


def recall_line(words: list[str]) -> str:
    return "I remember: " + ", ".join(words)


async def agentchat_team(ws) -> None:
    """app_team: echo of the message, two speakers, UserInputRequestedEvent; memory per connection."""
    words: list[str] = []
    async for raw in ws:
        message = json.loads(raw)
        await ws.send(json.dumps({"source": "user", "content": message["content"], "type": "TextMessage"}))
        words += CODEWORD.findall(message["content"])
        await ws.send(json.dumps({"source": "assistant", "content": recall_line(words), "type": "TextMessage"}))
        await ws.send(json.dumps({"source": "yoda", "content": "Remember, I do.", "type": "TextMessage"}))
        await ws.send(json.dumps({"source": "user", "content": "", "type": "UserInputRequestedEvent"}))


async def agentchat_team_failing(ws) -> None:
    """app_team on autogen-agentchat >= 0.6: every turn answers error + UserInputRequestedEvent."""
    async for _ in ws:
        await ws.send(json.dumps({"type": "error", "content": "Error: Object of type datetime is not JSON "
                                  "serializable", "source": "system"}))
        await ws.send(json.dumps({"type": "UserInputRequestedEvent", "content": "An error occurred. Please "
                                  "try again.", "source": "system"}))


def keyed_memory(store: dict[str, list[str]], key: str, text: str) -> str:
    words = store.setdefault(key, [])
    words += CODEWORD.findall(text)
    return recall_line(words)


async def recv_json(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 10))
