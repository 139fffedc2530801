"""The fix kit on a real Redis Cluster: three `redis-server --cluster-enabled yes` primaries.

The stores are used unchanged, through redis-py's `RedisCluster` (sync and asyncio). Every
command and script of the stores names exactly one key, so each lands on the node owning that
key's slot; the cluster itself refuses anything else (CROSSSLOT, or "non local key" for a
script), so running every method here against sessions spread over all three primaries is the
check that no command spans slots.
"""

import asyncio
import json
import threading

import pytest
import redis
import redis.asyncio as aioredis
from autogen_agentchat.agents import AssistantAgent
from codeword_model import CodewordChatCompletionClient

from autogen_doctor.persist import AsyncRedisHistoryStore, ConcurrentTurnError, RedisHistoryStore, RedisStateStore

pytestmark = pytest.mark.services


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=CodewordChatCompletionClient())


def sessions_on_every_primary(client: redis.RedisCluster, key_of, count: int = 3) -> list[str]:
    """Session ids whose keys (as `key_of` names them) land on `count` different primaries."""
    by_node: dict[str, str] = {}
    for number in range(10_000):
        session = f"user-{number}"
        node = client.get_node_from_key(key_of(session)).name
        by_node.setdefault(node, session)
        if len(by_node) == count:
            return list(by_node.values())
    raise AssertionError("could not spread sessions over the primaries")


def keys_per_primary(cluster_nodes, pattern: str) -> list[int]:
    """How many keys matching `pattern` each primary holds, read node by node."""
    counts = []
    for port in cluster_nodes.ports:
        node = redis.Redis(host="127.0.0.1", port=port)
        counts.append(sum(1 for _ in node.scan_iter(match=pattern, count=1000)))
        node.close()
    return counts


def test_the_cluster_has_three_primaries_sharing_the_slots(redis_cluster_nodes):
    client = redis.RedisCluster.from_url(redis_cluster_nodes.url)
    primaries = client.get_primaries()
    info = client.cluster_info()
    client.close()
    assert len(primaries) == 3
    assert info["cluster_state"] == "ok" and int(info["cluster_slots_assigned"]) == 16384


def test_state_store_keeps_sessions_on_every_primary(redis_cluster_nodes, key_prefix):
    probe_client = redis.RedisCluster.from_url(redis_cluster_nodes.url)
    sessions = sessions_on_every_primary(probe_client, lambda session: key_prefix + session)
    probe_client.close()

    async def scenario():
        store = RedisStateStore(aioredis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix)
        replies = {}
        for index, session in enumerate(sessions):
            async with store.session(session, build_agent()) as agent:
                await agent.run(task=f"Remember adr-clu{index}-0001.")
        for index, session in enumerate(sessions):
            async with store.session(session, build_agent()) as agent:
                result = await agent.run(task=f"Remember adr-clu{index}-0002.")
            replies[session] = result.messages[-1].to_text()
        snapshots = [await store.load(session) for session in sessions]
        await store.aclose()
        return replies, snapshots

    replies, snapshots = asyncio.run(scenario())
    for index, session in enumerate(sessions):
        # Each session remembers its own first turn, and only its own.
        assert f"adr-clu{index}-0001" in replies[session] and f"adr-clu{index}-0002" in replies[session]
        others = [f"adr-clu{other}-0001" for other in range(len(sessions)) if other != index]
        assert not any(codeword in replies[session] for codeword in others)
    assert [snapshot.version for snapshot in snapshots] == [2, 2, 2]
    assert keys_per_primary(redis_cluster_nodes, key_prefix + "*") == [1, 1, 1]


def test_state_store_version_check_and_ttl_on_the_cluster(redis_cluster_nodes, key_prefix):
    async def scenario():
        store = RedisStateStore(aioredis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix,
                                ttl_seconds=120)
        first = await store.save("s", {"turn": 1}, loaded_version=0)
        with pytest.raises(ConcurrentTurnError):
            await store.save("s", {"turn": "stale"}, loaded_version=0)
        snapshot = await store.load("s")
        ttl = await store.client.ttl(store.key("s"))
        await store.delete("s")
        gone = await store.load("s")
        await store.aclose()
        return first, snapshot, ttl, gone

    first, snapshot, ttl, gone = asyncio.run(scenario())
    assert first == 1 and snapshot.state == {"turn": 1} and snapshot.version == 1
    assert 100 < ttl <= 120
    assert gone.state is None and gone.version == 0


def test_state_store_reloads_its_script_on_a_node_that_lost_it(redis_cluster_nodes, key_prefix):
    """A restarted or new primary has no scripts: the save must load it there, not fail."""

    async def scenario():
        store = RedisStateStore(aioredis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix)
        await store.save("s", {"turn": 1}, loaded_version=0)
        for port in redis_cluster_nodes.ports:
            node = aioredis.Redis(host="127.0.0.1", port=port)
            await node.script_flush()
            await node.aclose()
        version = await store.save("s", {"turn": 2}, loaded_version=1)
        await store.aclose()
        return version

    assert asyncio.run(scenario()) == 2


def test_run_turn_retries_a_colliding_turn_on_the_cluster(redis_cluster_nodes, key_prefix):
    async def scenario():
        store = RedisStateStore(aioredis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix)
        attempts = 0

        async def turn_that_collides_once(agent):
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                async with store.session("s", build_agent()) as other:
                    await other.run(task="Remember adr-othr-c001.")
            return await agent.run(task="Remember adr-mine-c002.")

        await store.run_turn("s", build_agent, turn_that_collides_once)
        snapshot = await store.load("s")
        await store.aclose()
        return attempts, snapshot

    attempts, snapshot = asyncio.run(scenario())
    assert attempts == 2 and snapshot.version == 2
    assert "adr-othr-c001" in json.dumps(snapshot.state) and "adr-mine-c002" in json.dumps(snapshot.state)


def test_history_store_appends_from_many_threads_on_every_primary(redis_cluster_nodes, key_prefix):
    history = RedisHistoryStore(redis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix,
                                ttl_seconds=60)
    sessions = sessions_on_every_primary(history.client, history.key)
    start = threading.Barrier(6)

    def writer(index: int) -> None:
        start.wait(timeout=10)
        for turn in range(20):
            history.append(sessions[turn % len(sessions)], {"writer": index, "turn": turn})

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = {session: history.read(session) for session in sessions}
    last = history.read(sessions[0], last=2)
    ttls = [history.client.ttl(history.key(session)) for session in sessions]
    history.clear(sessions[1])
    cleared = history.read(sessions[1])
    history.client.close()

    landed = {(m["writer"], m["turn"]) for messages in stored.values() for m in messages}
    assert landed == {(writer, turn) for writer in range(6) for turn in range(20)}
    assert sum(len(messages) for messages in stored.values()) == 120
    assert last == stored[sessions[0]][-2:]
    assert all(50 < ttl <= 60 for ttl in ttls)
    assert cleared == []


def test_async_history_store_on_the_cluster(redis_cluster_nodes, key_prefix):
    async def scenario():
        # redis-py wants an asyncio cluster client initialized before concurrent use: 8.1 fails
        # some of 30 commands gathered on a fresh client (docs/fixkit.md shows the set-up).
        client = await aioredis.RedisCluster.from_url(redis_cluster_nodes.url).initialize()
        history = AsyncRedisHistoryStore(client, prefix=key_prefix)
        await asyncio.gather(*(history.append(f"s{n % 3}", {"n": n}) for n in range(30)))
        stored = [await history.read(f"s{index}") for index in range(3)]
        await history.client.aclose()
        return stored

    stored = asyncio.run(scenario())
    assert sorted(m["n"] for messages in stored for m in messages) == list(range(30))
    assert all(m["n"] % 3 == index for index, messages in enumerate(stored) for m in messages)


def test_session_ids_with_hash_tags_stay_one_key_each(redis_cluster_nodes, key_prefix):
    """Braces in a session id make Redis hash only the tagged part; each key still stands alone."""
    history = RedisHistoryStore(redis.RedisCluster.from_url(redis_cluster_nodes.url), prefix=key_prefix)
    tagged = ["{tenant-1}alice", "{tenant-1}bob", "odd{", "}{", "{}empty-tag"]
    for session in tagged:
        history.append(session, {"session": session})
    stored = {session: history.read(session) for session in tagged}
    history.client.close()
    assert stored == {session: [{"session": session}] for session in tagged}


def test_waiting_for_replicas_is_refused_on_a_cluster_client(redis_cluster_nodes):
    with pytest.raises(ValueError, match="wait_for_replicas"):
        RedisHistoryStore(redis.RedisCluster.from_url(redis_cluster_nodes.url), wait_for_replicas=1)
    with pytest.raises(ValueError, match="wait_for_replicas"):
        RedisStateStore(aioredis.RedisCluster.from_url(redis_cluster_nodes.url), wait_for_replicas=1)
