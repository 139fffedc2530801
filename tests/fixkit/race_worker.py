"""One of two OS processes racing turns on one session; run by test_race.py.

Both processes run the same turns against the same session through the chosen store:
`plain` is the naive pattern (GET the state, run the turn, SET it back); `kit` is the fix kit's
RedisStateStore.run_turn. Inside each turn, after the state was loaded, the process waits for
its peer to reach the same turn (a barrier in Redis, bounded), the way a slow LLM call keeps
two overlapping turns open at once.

usage: race_worker.py {plain,kit} REDIS_URL PREFIX SESSION NAME TURNS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import redis.asyncio as aioredis  # noqa: E402
from autogen_agentchat.agents import AssistantAgent  # noqa: E402
from codeword_model import CodewordChatCompletionClient  # noqa: E402

from autogen_doctor.persist import RedisStateStore  # noqa: E402

PEERS = 2
BARRIER_TIMEOUT_S = 10.0


class PlainStateStore:
    """What many services do: read, change in Python, write back. No version, no lock."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    async def run_turn(self, session_id, build, turn):
        key = self.prefix + session_id
        agent = build()
        raw = await self.client.get(key)
        if raw:
            await agent.load_state(json.loads(raw))
        result = await turn(agent)
        await self.client.set(key, json.dumps(await agent.save_state()))
        return result


async def barrier(client: aioredis.Redis, key: str) -> None:
    """Wait until both processes reached this point (a retry passes straight through)."""
    await client.incr(key)
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while int(await client.get(key) or 0) < PEERS and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def main(kind: str, redis_url: str, prefix: str, session: str, name: str, turns: int) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = PlainStateStore(client, prefix) if kind == "plain" else RedisStateStore(client, prefix=prefix, max_retries=20)
    model = CodewordChatCompletionClient()

    for index in range(turns):
        codeword = f"adr-{name}{index:03d}-race"

        async def turn(agent, index=index, codeword=codeword):
            await barrier(client, f"{prefix}barrier:{index}")
            return await agent.run(task=f"Remember this codeword: {codeword}.")

        await store.run_turn(session, lambda: AssistantAgent("assistant", model_client=model), turn)
    await client.aclose()


if __name__ == "__main__":
    kind, redis_url, prefix, session, name, turns = sys.argv[1:7]
    asyncio.run(main(kind, redis_url, prefix, session, name, int(turns)))
