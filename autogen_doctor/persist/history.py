"""Conversation transcripts in Redis lists: atomic appends, so concurrent turns lose nothing.

For services that keep the messages themselves (the classic `autogen` API, or a transcript next
to AgentChat state). Each message is one JSON list element; `append` is one `RPUSH` plus a TTL
refresh in one small Lua script, so two turns appending at once both land, in arrival order,
without the read-modify-write race of "GET the list, add to it in Python, SET it back". Every
command touches the session's one key, so the stores work unchanged on a Redis Cluster client.
(A script rather than MULTI/EXEC: the same on every redis-py version, Cluster included.)

    history = RedisHistoryStore.from_url(os.environ["REDIS_URL"], ttl_seconds=86400)
    earlier = history.read(session_id)                      # a list of dicts
    history.append(session_id, {"role": "user", "content": message}, reply)

`RedisHistoryStore` takes a sync `redis.Redis` (or `redis.RedisCluster`, or Sentinel's
`master_for`); `AsyncRedisHistoryStore` the same API on the `redis.asyncio` clients.
`wait_for_replicas=N` makes `append` return only once N replicas hold the messages. Messages
are dicts (or pydantic models, such as AgentChat messages, which are stored as
`model_dump(mode="json")`); `read` returns dicts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Union

from autogen_doctor.persist._redis import (
    ReplicaAcknowledgement,
    as_text,
    check_client,
    require_redis,
    require_redis_asyncio,
)

if TYPE_CHECKING:
    from pydantic import BaseModel
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

DEFAULT_HISTORY_PREFIX = "autogen-doctor:history:"
DEFAULT_TTL_SECONDS = 86_400
DEFAULT_REPLICA_TIMEOUT_SECONDS = 1.0

# RPUSH the messages (ARGV[2..]) and refresh the TTL (ARGV[1] ms, 0 = none) in one atomic step.
# One RPUSH per message: Lua's unpack() has a stack limit a long append could exceed.
_APPEND = """
local length = 0
for index = 2, #ARGV do
  length = redis.call('RPUSH', KEYS[1], ARGV[index])
end
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return length
"""

Message = Union[Mapping[str, Any], "BaseModel"]


def _encode(message: Message) -> str:
    dump = getattr(message, "model_dump", None)
    data = dump(mode="json") if callable(dump) else dict(message)  # type: ignore[arg-type]
    return json.dumps(data)


def _decode(items: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(as_text(item) or "null") for item in items]


def _lrange_bounds(last: int | None) -> tuple[int, int]:
    if last is None:
        return 0, -1
    if last <= 0:
        raise ValueError("last must be positive")
    return -last, -1


class _HistoryKeys:
    def __init__(self, client: Any, *, want_async: bool, owner: str, ttl_seconds: int | None, prefix: str,
                 wait_for_replicas: int, replica_timeout_seconds: float) -> None:
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive, or None for no expiry")
        check_client(client, want_async=want_async, owner=owner)
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.acknowledgement = ReplicaAcknowledgement(client, wait_for_replicas, replica_timeout_seconds, owner)
        self._append_script = client.register_script(_APPEND)

    def key(self, session_id: str) -> str:
        """The Redis key holding `session_id`'s messages."""
        return self.prefix + session_id

    def _append_args(self, messages: tuple[Message, ...]) -> list[Any]:
        ttl_ms = self.ttl_seconds * 1000 if self.ttl_seconds is not None else 0
        return [ttl_ms, *[_encode(message) for message in messages]]


class RedisHistoryStore(_HistoryKeys):
    """Per-session message lists in Redis through a sync `redis.Redis` client."""

    def __init__(
        self,
        client: "Redis",
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_HISTORY_PREFIX,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(client, want_async=False, owner="RedisHistoryStore", ttl_seconds=ttl_seconds,
                         prefix=prefix, wait_for_replicas=wait_for_replicas,
                         replica_timeout_seconds=replica_timeout_seconds)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_HISTORY_PREFIX,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> "RedisHistoryStore":
        """A store on a new sync client for `url` (for a Cluster or Sentinel, pass a client)."""
        return cls(require_redis().Redis.from_url(url), ttl_seconds=ttl_seconds, prefix=prefix,
                   wait_for_replicas=wait_for_replicas, replica_timeout_seconds=replica_timeout_seconds)

    def append(self, session_id: str, *messages: Message) -> int:
        """Append `messages` atomically and refresh the TTL; return the new length.

        With `wait_for_replicas`, raises `NotReplicatedError` (messages kept on the primary
        only) when too few replicas confirmed them in time.
        """
        key = self.key(session_id)
        if not messages:
            return int(self.client.llen(key))
        if not self.acknowledgement.replicas:
            return int(self._append_script(keys=[key], args=self._append_args(messages)))
        # WAIT counts this connection's writes: send it in one pipeline with the append.
        with self.client.pipeline(transaction=False) as pipe:
            self._append_script(keys=[key], args=self._append_args(messages), client=pipe)
            pipe.wait(self.acknowledgement.replicas, self.acknowledgement.timeout_ms)
            length, confirmed = pipe.execute()
        self.acknowledgement.check(key, confirmed)
        return int(length)

    def read(self, session_id: str, *, last: int | None = None) -> list[dict[str, Any]]:
        """The session's messages, oldest first (only the `last` N when given)."""
        start, stop = _lrange_bounds(last)
        return _decode(self.client.lrange(self.key(session_id), start, stop))

    def clear(self, session_id: str) -> None:
        """Forget the session's messages."""
        self.client.delete(self.key(session_id))


class AsyncRedisHistoryStore(_HistoryKeys):
    """Per-session message lists in Redis through an async `redis.asyncio.Redis` client."""

    def __init__(
        self,
        client: "AsyncRedis",
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_HISTORY_PREFIX,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(client, want_async=True, owner="AsyncRedisHistoryStore", ttl_seconds=ttl_seconds,
                         prefix=prefix, wait_for_replicas=wait_for_replicas,
                         replica_timeout_seconds=replica_timeout_seconds)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_HISTORY_PREFIX,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> "AsyncRedisHistoryStore":
        """A store on a new async client for `url` (for a Cluster or Sentinel, pass a client)."""
        return cls(require_redis_asyncio().Redis.from_url(url), ttl_seconds=ttl_seconds, prefix=prefix,
                   wait_for_replicas=wait_for_replicas, replica_timeout_seconds=replica_timeout_seconds)

    async def append(self, session_id: str, *messages: Message) -> int:
        """Append `messages` atomically and refresh the TTL; return the new length.

        With `wait_for_replicas`, raises `NotReplicatedError` (messages kept on the primary
        only) when too few replicas confirmed them in time.
        """
        key = self.key(session_id)
        if not messages:
            return int(await self.client.llen(key))
        if not self.acknowledgement.replicas:
            return int(await self._append_script(keys=[key], args=self._append_args(messages)))
        async with self.client.pipeline(transaction=False) as pipe:
            await self._append_script(keys=[key], args=self._append_args(messages), client=pipe)
            pipe.wait(self.acknowledgement.replicas, self.acknowledgement.timeout_ms)
            length, confirmed = await pipe.execute()
        self.acknowledgement.check(key, confirmed)
        return int(length)

    async def read(self, session_id: str, *, last: int | None = None) -> list[dict[str, Any]]:
        """The session's messages, oldest first (only the `last` N when given)."""
        start, stop = _lrange_bounds(last)
        return _decode(await self.client.lrange(self.key(session_id), start, stop))

    async def clear(self, session_id: str) -> None:
        """Forget the session's messages."""
        await self.client.delete(self.key(session_id))
