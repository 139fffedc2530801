"""Conversation transcripts in Redis lists: atomic appends, so concurrent turns lose nothing.

For services that keep the messages themselves (the classic `autogen` API, or a transcript next
to AgentChat state). Each message is one JSON list element; `append` is one `RPUSH` plus a TTL
refresh in a MULTI/EXEC transaction, so two turns appending at once both land, in arrival order,
without the read-modify-write race of "GET the list, add to it in Python, SET it back".

    history = RedisHistoryStore.from_url(os.environ["REDIS_URL"], ttl_seconds=86400)
    earlier = history.read(session_id)                      # a list of dicts
    history.append(session_id, {"role": "user", "content": message}, reply)

`RedisHistoryStore` takes a sync `redis.Redis`; `AsyncRedisHistoryStore` the same API on a
`redis.asyncio.Redis`. Messages are dicts (or pydantic models, such as AgentChat messages, which
are stored as `model_dump(mode="json")`); `read` returns dicts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Union

from autogen_doctor.persist._redis import as_text, check_client, require_redis, require_redis_asyncio

if TYPE_CHECKING:
    from pydantic import BaseModel
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

DEFAULT_HISTORY_PREFIX = "autogen-doctor:history:"
DEFAULT_TTL_SECONDS = 86_400

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
    def __init__(self, ttl_seconds: int | None, prefix: str) -> None:
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive, or None for no expiry")
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix

    def key(self, session_id: str) -> str:
        """The Redis key holding `session_id`'s messages."""
        return self.prefix + session_id


class RedisHistoryStore(_HistoryKeys):
    """Per-session message lists in Redis through a sync `redis.Redis` client."""

    def __init__(
        self, client: "Redis", *, ttl_seconds: int | None = DEFAULT_TTL_SECONDS, prefix: str = DEFAULT_HISTORY_PREFIX
    ) -> None:
        super().__init__(ttl_seconds, prefix)
        check_client(client, want_async=False, owner="RedisHistoryStore")
        self.client = client

    @classmethod
    def from_url(
        cls, url: str, *, ttl_seconds: int | None = DEFAULT_TTL_SECONDS, prefix: str = DEFAULT_HISTORY_PREFIX
    ) -> "RedisHistoryStore":
        """A store on a new sync client for `url`."""
        return cls(require_redis().Redis.from_url(url), ttl_seconds=ttl_seconds, prefix=prefix)

    def append(self, session_id: str, *messages: Message) -> int:
        """Append `messages` atomically and refresh the TTL; return the new length."""
        if not messages:
            return int(self.client.llen(self.key(session_id)))
        key = self.key(session_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *[_encode(message) for message in messages])
            if self.ttl_seconds is not None:
                pipe.expire(key, self.ttl_seconds)
            length = pipe.execute()[0]
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
    ) -> None:
        super().__init__(ttl_seconds, prefix)
        check_client(client, want_async=True, owner="AsyncRedisHistoryStore")
        self.client = client

    @classmethod
    def from_url(
        cls, url: str, *, ttl_seconds: int | None = DEFAULT_TTL_SECONDS, prefix: str = DEFAULT_HISTORY_PREFIX
    ) -> "AsyncRedisHistoryStore":
        """A store on a new async client for `url`."""
        return cls(require_redis_asyncio().Redis.from_url(url), ttl_seconds=ttl_seconds, prefix=prefix)

    async def append(self, session_id: str, *messages: Message) -> int:
        """Append `messages` atomically and refresh the TTL; return the new length."""
        if not messages:
            return int(await self.client.llen(self.key(session_id)))
        key = self.key(session_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *[_encode(message) for message in messages])
            if self.ttl_seconds is not None:
                pipe.expire(key, self.ttl_seconds)
            length = (await pipe.execute())[0]
        return int(length)

    async def read(self, session_id: str, *, last: int | None = None) -> list[dict[str, Any]]:
        """The session's messages, oldest first (only the `last` N when given)."""
        start, stop = _lrange_bounds(last)
        return _decode(await self.client.lrange(self.key(session_id), start, stop))

    async def clear(self, session_id: str) -> None:
        """Forget the session's messages."""
        await self.client.delete(self.key(session_id))
