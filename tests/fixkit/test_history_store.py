"""RedisHistoryStore (sync) and AsyncRedisHistoryStore against a real redis-server."""

import asyncio
import threading

import pytest
import redis
from autogen_agentchat.messages import TextMessage

from autogen_doctor.persist import AsyncRedisHistoryStore, NotReplicatedError, RedisHistoryStore

pytestmark = pytest.mark.services


def test_append_and_read_keep_order(redis_url, key_prefix):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    assert history.append("s", {"role": "user", "content": "one"}) == 1
    assert history.append("s", {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}) == 3
    assert [m["content"] for m in history.read("s")] == ["one", "two", "three"]
    assert [m["content"] for m in history.read("s", last=2)] == ["two", "three"]
    assert history.read("other") == []


def test_clear_forgets_the_session_only(redis_url, key_prefix):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    history.append("a", {"content": "kept"})
    history.append("b", {"content": "dropped"})
    history.clear("b")
    assert history.read("b") == []
    assert history.read("a") == [{"content": "kept"}]


def test_append_refreshes_the_ttl(redis_url, key_prefix):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix, ttl_seconds=60)
    history.append("s", {"content": "x"})
    assert 50 < redis.Redis.from_url(redis_url).ttl(history.key("s")) <= 60


def test_agentchat_messages_are_stored_as_json(redis_url, key_prefix):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    history.append("s", TextMessage(source="user", content="Remember adr-text-0001."))
    [stored] = history.read("s")
    assert TextMessage.model_validate(stored).content == "Remember adr-text-0001."


def test_appends_from_many_threads_all_land(redis_url, key_prefix):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    start = threading.Barrier(8)

    def writer(index: int) -> None:
        start.wait(timeout=10)
        for turn in range(25):
            history.append("s", {"writer": index, "turn": turn})

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stored = history.read("s")
    assert len(stored) == 200
    assert {(m["writer"], m["turn"]) for m in stored} == {(w, t) for w in range(8) for t in range(25)}


def test_async_store_has_the_same_behaviour(redis_url, key_prefix):
    async def scenario():
        history = AsyncRedisHistoryStore.from_url(redis_url, prefix=key_prefix, ttl_seconds=30)
        await asyncio.gather(*(history.append("s", {"n": n}) for n in range(50)))
        stored = await history.read("s")
        last = await history.read("s", last=1)
        ttl = await history.client.ttl(history.key("s"))
        await history.clear("s")
        empty = await history.read("s")
        await history.client.aclose()
        return stored, last, ttl, empty

    stored, last, ttl, empty = asyncio.run(scenario())
    assert sorted(m["n"] for m in stored) == list(range(50))
    assert last == [stored[-1]]
    assert 0 < ttl <= 30
    assert empty == []


@pytest.mark.parametrize("last", [0, -3])
def test_read_refuses_a_non_positive_last(redis_url, key_prefix, last):
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    with pytest.raises(ValueError):
        history.read("s", last=last)


def test_each_history_store_refuses_the_other_kind_of_client(redis_url):
    import redis.asyncio as aioredis

    with pytest.raises(TypeError, match="AsyncRedisHistoryStore"):
        RedisHistoryStore(aioredis.Redis.from_url(redis_url))
    with pytest.raises(TypeError, match="async client"):
        AsyncRedisHistoryStore(redis.Redis.from_url(redis_url))


def test_appends_no_replica_confirmed_raise_but_stay_on_the_primary(redis_url, key_prefix):
    """The session's redis-server has no replica: WAIT 1 times out with 0, so nothing is acknowledged."""
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix, wait_for_replicas=1,
                                         replica_timeout_seconds=0.2)
    with pytest.raises(NotReplicatedError) as raised:
        history.append("s", {"content": "one"})
    assert (raised.value.wanted, raised.value.confirmed) == (1, 0)
    assert history.read("s") == [{"content": "one"}]

    async def async_append():
        store = AsyncRedisHistoryStore.from_url(redis_url, prefix=key_prefix, wait_for_replicas=1,
                                                replica_timeout_seconds=0.2)
        try:
            with pytest.raises(NotReplicatedError):
                await store.append("s", {"content": "two"})
        finally:
            await store.client.aclose()

    asyncio.run(async_append())
    assert [m["content"] for m in history.read("s")] == ["one", "two"]


def test_a_long_append_lands_whole(redis_url, key_prefix):
    """More messages in one call than Lua's unpack() could take at once."""
    history = RedisHistoryStore.from_url(redis_url, prefix=key_prefix)
    assert history.append("s", *({"n": n} for n in range(10_000))) == 10_000
    assert [m["n"] for m in history.read("s", last=3)] == [9_997, 9_998, 9_999]


@pytest.mark.parametrize("options", [{"wait_for_replicas": -1}, {"replica_timeout_seconds": 0}])
def test_invalid_history_options_are_refused(redis_url, options):
    with pytest.raises(ValueError):
        RedisHistoryStore.from_url(redis_url, **options)
