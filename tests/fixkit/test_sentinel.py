"""The fix kit under Redis Sentinel: a primary, a replica, three sentinels, all real, on loopback.

"Acknowledged" means the store returned: with `wait_for_replicas=1` a save or append returns
only once a replica holds it (Redis `WAIT`), else it raises `NotReplicatedError`. Replication
is asynchronous, so without that a turn the primary confirmed can vanish when a replica is
promoted; with it, every turn acknowledged before the primary crashed is there after failover
(Sentinel promotes the replica that has replicated the most). The failover test runs two
replicas so that one is left to acknowledge writes after the other is promoted.
"""

import asyncio
import json
import threading
import time

import pytest
import redis
import redis.asyncio as aioredis
from autogen_agentchat.agents import AssistantAgent
from codeword_model import CodewordChatCompletionClient
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from autogen_doctor.persist import (
    AsyncRedisHistoryStore,
    NotReplicatedError,
    RedisHistoryStore,
    RedisStateStore,
)

pytestmark = pytest.mark.services

TURNS_BEFORE_CRASH = 5
TURNS_AFTER_CRASH = 5
# Errors a client sees while the primary is gone and until the sentinels promote the replica.
FAILOVER_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, NotReplicatedError)


def build_agent() -> AssistantAgent:
    return AssistantAgent("assistant", model_client=CodewordChatCompletionClient())


def async_primary(group) -> aioredis.Redis:
    """The client a service would use: whichever server the sentinels name primary, now."""
    sentinel = AsyncSentinel(group.sentinels, socket_timeout=1.0, sentinel_kwargs={"socket_timeout": 1.0})
    # Longer than the stores' 1 s replica timeout, so a WAIT that times out answers, not the socket.
    return sentinel.master_for(group.service_name, socket_timeout=2.0)


def test_sentinel_clients_are_accepted_and_reach_the_primary(sentinel_group, key_prefix):
    sentinel = Sentinel(sentinel_group.sentinels, socket_timeout=1.0)
    history = RedisHistoryStore(sentinel.master_for(sentinel_group.service_name, socket_timeout=2.0),
                                prefix=key_prefix, wait_for_replicas=1)
    assert history.append("s", {"content": "one"}) == 1
    replica = redis.Redis(host="127.0.0.1", port=sentinel_group.replica_ports[0])
    # WAIT returned: the replica holds the message already, no polling needed.
    assert replica.lrange(history.key("s"), 0, -1) == [b'{"content": "one"}']
    replica.close()
    history.client.close()


def test_a_write_the_replica_has_not_confirmed_is_not_acknowledged(sentinel_group, key_prefix):
    sentinel = Sentinel(sentinel_group.sentinels, socket_timeout=2.0)
    client = sentinel.master_for(sentinel_group.service_name, socket_timeout=2.0)
    history = RedisHistoryStore(client, prefix=key_prefix, wait_for_replicas=1, replica_timeout_seconds=0.3)
    unchecked = RedisHistoryStore(client, prefix=key_prefix)

    async def save_while_stalled():
        store = RedisStateStore(async_primary(sentinel_group), prefix=key_prefix, wait_for_replicas=1,
                                replica_timeout_seconds=0.3)
        try:
            with pytest.raises(NotReplicatedError) as raised:
                await store.save("state", {"turn": 1}, loaded_version=0)
            return raised.value
        finally:
            await store.aclose()

    # Shorter than the sentinels' 1 s down-after period: the replica is never declared down.
    with sentinel_group.replicas_stopped():
        with pytest.raises(NotReplicatedError) as raised:
            history.append("s", {"content": "unconfirmed"})
        state_error = asyncio.run(save_while_stalled())
        plain_length = unchecked.append("s", {"content": "confirmed by the primary only"})
    assert raised.value.wanted == 1 and raised.value.confirmed == 0
    assert state_error.wanted == 1 and state_error.confirmed == 0
    assert plain_length == 2  # without wait_for_replicas the store answers at once, replicated or not
    # Once the replica is back, acknowledged writes resume.
    assert history.append("s", {"content": "confirmed"}) == 3
    client.close()


def test_acknowledged_turns_survive_a_primary_crash(sentinel_group_two_replicas, key_prefix):
    sentinel_group = sentinel_group_two_replicas

    async def scenario():
        client = async_primary(sentinel_group)
        store = RedisStateStore(client, prefix=key_prefix, wait_for_replicas=1)
        history = AsyncRedisHistoryStore(client, prefix=key_prefix, wait_for_replicas=1)
        acknowledged: list[str] = []
        failures: list[str] = []
        crash: threading.Thread | None = None
        deadline = time.monotonic() + 120
        turn = 0
        while len(acknowledged) < TURNS_BEFORE_CRASH + TURNS_AFTER_CRASH:
            assert time.monotonic() < deadline, f"no failover in time: {failures[-5:]}"
            codeword = f"adr-fo{turn:02d}-turn"
            try:
                await store.run_turn("state", build_agent, lambda agent: agent.run(task=f"Remember {codeword}."))
                await history.append("s", {"codeword": codeword})
            except FAILOVER_ERRORS as error:
                failures.append(type(error).__name__)
                await asyncio.sleep(0.2)
                continue  # not acknowledged: the same turn again, as a client would retry it
            acknowledged.append(codeword)
            turn += 1
            if len(acknowledged) == TURNS_BEFORE_CRASH:
                # Crash the primary from another thread while the next turns are running.
                crash = threading.Thread(target=sentinel_group.crash_primary)
                crash.start()
                crashed_after = list(acknowledged)
        crash.join(timeout=30)
        snapshot = await store.load("state")
        messages = await history.read("s")
        await client.aclose()
        return crashed_after, acknowledged, failures, snapshot, messages

    crashed_after, acknowledged, failures, snapshot, messages = asyncio.run(scenario())
    # The turns after the crash were served by the promoted replica.
    assert sentinel_group.primary.poll() is not None
    assert sentinel_group.current_primary_port() in sentinel_group.replica_ports
    assert failures, "the crash should have interrupted at least one turn"
    state_text = json.dumps(snapshot.state)
    assert [codeword for codeword in acknowledged if codeword not in state_text] == []
    stored_codewords = [message["codeword"] for message in messages]
    assert [codeword for codeword in acknowledged if codeword not in stored_codewords] == []
    assert set(crashed_after) <= set(stored_codewords)
