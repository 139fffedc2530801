"""RedisStateStore against a real redis-server, with real AgentChat agents and teams."""

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.teams import RoundRobinGroupChat
from codeword_model import CodewordChatCompletionClient

from autogen_doctor.persist import ConcurrentTurnError, NotReplicatedError, RedisStateStore

pytestmark = pytest.mark.services


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=CodewordChatCompletionClient())


def build_team() -> RoundRobinGroupChat:
    model = CodewordChatCompletionClient()
    return RoundRobinGroupChat(
        [AssistantAgent("researcher", model_client=model), AssistantAgent("writer", model_client=model)],
        max_turns=2,
    )


def run(coroutine):
    return asyncio.run(coroutine)


async def _store(redis_url: str, prefix: str, **options) -> RedisStateStore:
    return RedisStateStore.from_url(redis_url, prefix=prefix, **options)


def test_session_restores_agent_state_into_a_fresh_agent(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        async with store.session("s1", build_agent()) as agent:
            await agent.run(task="Remember adr-aaaa-1111.")
        async with store.session("s1", build_agent()) as agent:
            result = await agent.run(task="Remember adr-bbbb-2222.")
        await store.aclose()
        return result.messages[-1].to_text()

    reply = run(scenario())
    assert "adr-aaaa-1111" in reply and "adr-bbbb-2222" in reply


def test_sessions_are_kept_apart(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        async with store.session("alice", build_agent()) as agent:
            await agent.run(task="Remember adr-alic-0001.")
        async with store.session("bob", build_agent()) as agent:
            result = await agent.run(task="Remember adr-bobb-0002.")
        await store.aclose()
        return result.messages[-1].to_text()

    reply = run(scenario())
    assert "adr-bobb-0002" in reply
    assert "adr-alic-0001" not in reply


def test_save_refuses_a_stale_version_and_keeps_the_newer_state(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        first = await store.save("s", {"turn": 1}, loaded_version=0)
        second = await store.save("s", {"turn": 2}, loaded_version=first)
        with pytest.raises(ConcurrentTurnError) as raised:
            await store.save("s", {"turn": "stale"}, loaded_version=first)
        snapshot = await store.load("s")
        await store.aclose()
        return first, second, raised.value, snapshot

    first, second, error, snapshot = run(scenario())
    assert (first, second) == (1, 2)
    assert error.session_id == "s" and error.loaded_version == 1
    assert snapshot.state == {"turn": 2} and snapshot.version == 2


def test_two_overlapping_sessions_the_later_save_raises(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        slow = build_agent()
        async with store.session("s", slow):  # loads version 0 ...
            async with store.session("s", build_agent()) as fast:  # ... so does this one, and saves first
                await fast.run(task="Remember adr-fast-0001.")
            await slow.run(task="Remember adr-slow-0002.")
        # unreachable: the outer block must raise on exit

    with pytest.raises(ConcurrentTurnError):
        run(scenario())


def test_a_failing_turn_saves_nothing(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        with pytest.raises(RuntimeError):
            async with store.session("s", build_agent()) as agent:
                await agent.run(task="Remember adr-lost-0001.")
                raise RuntimeError("the turn failed after the model answered")
        snapshot = await store.load("s")
        await store.aclose()
        return snapshot

    snapshot = run(scenario())
    assert snapshot.state is None and snapshot.version == 0


def test_run_turn_reruns_a_colliding_turn_on_fresh_state(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        collided = asyncio.Event()
        attempts = 0

        async def turn_that_collides_once(agent):
            nonlocal attempts
            attempts += 1
            if not collided.is_set():
                collided.set()
                # Another turn of the same session saves while this one is running.
                async with store.session("s", build_agent()) as other:
                    await other.run(task="Remember adr-othr-0001.")
            return await agent.run(task="Remember adr-mine-0002.")

        result = await store.run_turn("s", build_agent, turn_that_collides_once)
        snapshot = await store.load("s")
        await store.aclose()
        return attempts, result.messages[-1].to_text(), snapshot

    attempts, reply, snapshot = run(scenario())
    assert attempts == 2
    assert "adr-othr-0001" in reply and "adr-mine-0002" in reply
    assert snapshot.version == 2
    assert "adr-othr-0001" in json.dumps(snapshot.state) and "adr-mine-0002" in json.dumps(snapshot.state)


def test_run_turn_gives_up_after_max_retries(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix, max_retries=2)
        attempts = 0

        async def turn_that_always_collides(agent):
            nonlocal attempts
            attempts += 1
            snapshot = await store.load("s")
            await store.save("s", {"interloper": attempts}, loaded_version=snapshot.version)
            return await agent.run(task="Remember adr-nevr-0001.")

        try:
            await store.run_turn("s", build_agent, turn_that_always_collides)
        finally:
            await store.aclose()

    with pytest.raises(ConcurrentTurnError):
        run(scenario())


def test_team_state_round_trips_through_the_store(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix)
        await store.run_turn("t", build_team, lambda team: team.run(task="Remember adr-team-0001."))
        result = await store.run_turn("t", build_team, lambda team: team.run(task="Remember adr-team-0002."))
        await store.aclose()
        return [message.to_text() for message in result.messages]

    replies = run(scenario())
    # Both participants answer, and both still know the first turn's codeword.
    assert len(replies) == 3
    assert all("adr-team-0001" in reply for reply in replies[1:])


def test_every_save_sets_the_ttl(redis_url, key_prefix):
    async def scenario():
        store = await _store(redis_url, key_prefix, ttl_seconds=120)
        await store.save("s", {"x": 1}, loaded_version=0)
        client = aioredis.Redis.from_url(redis_url)
        ttl = await client.ttl(store.key("s"))
        await client.aclose()
        forever = await _store(redis_url, key_prefix + "forever:", ttl_seconds=None)
        await forever.save("s", {"x": 1}, loaded_version=0)
        client = aioredis.Redis.from_url(redis_url)
        no_ttl = await client.ttl(forever.key("s"))
        await client.aclose()
        await store.aclose()
        await forever.aclose()
        return ttl, no_ttl

    ttl, no_ttl = run(scenario())
    assert 100 < ttl <= 120
    assert no_ttl == -1  # the key exists and never expires


def test_store_works_with_a_decoding_client(redis_url, key_prefix):
    async def scenario():
        store = RedisStateStore(aioredis.Redis.from_url(redis_url, decode_responses=True), prefix=key_prefix)
        async with store.session("s", build_agent()) as agent:
            await agent.run(task="Remember adr-deco-0001.")
        snapshot = await store.load("s")
        await store.aclose()
        return snapshot

    snapshot = run(scenario())
    assert snapshot.version == 1 and "adr-deco-0001" in json.dumps(snapshot.state)


@pytest.mark.parametrize("options", [{"ttl_seconds": 0}, {"ttl_seconds": -5}, {"max_retries": -1}])
def test_invalid_options_are_refused(redis_url, options):
    with pytest.raises(ValueError):
        RedisStateStore.from_url(redis_url, **options)


def test_a_sync_client_is_refused_with_a_clear_message(redis_url):
    import redis

    with pytest.raises(TypeError, match="async client"):
        RedisStateStore(redis.Redis.from_url(redis_url))


@pytest.mark.parametrize("options", [{"wait_for_replicas": -1}, {"replica_timeout_seconds": 0},
                                     {"replica_timeout_seconds": -1.0}])
def test_invalid_replica_options_are_refused(redis_url, options):
    with pytest.raises(ValueError):
        RedisStateStore.from_url(redis_url, **options)


def test_a_save_no_replica_confirmed_raises_but_stays_on_the_primary(redis_url, key_prefix):
    """The session's redis-server has no replica: WAIT 1 times out with 0, so nothing is acknowledged."""

    async def scenario():
        store = await _store(redis_url, key_prefix, wait_for_replicas=1, replica_timeout_seconds=0.2)
        with pytest.raises(NotReplicatedError) as raised:
            await store.save("s", {"turn": 1}, loaded_version=0)
        snapshot = await store.load("s")
        await store.aclose()
        unchecked = await _store(redis_url, key_prefix)
        version = await unchecked.save("s", {"turn": 2}, loaded_version=snapshot.version)
        await unchecked.aclose()
        return raised.value, snapshot, version

    error, snapshot, version = run(scenario())
    assert (error.wanted, error.confirmed) == (1, 0) and error.key.endswith(":s")
    assert snapshot.state == {"turn": 1} and snapshot.version == 1  # written, not rolled back
    assert version == 2  # without wait_for_replicas no WAIT is sent: the save answers at once
