"""Import redis only when a store is built, so `autogen_doctor` itself never needs it."""

from __future__ import annotations

from types import ModuleType


def require_redis() -> ModuleType:
    """The `redis` module, or a clear ImportError naming the extra to install."""
    try:
        import redis
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "autogen_doctor.persist needs the redis client: pip install 'autogen-doctor[redis]'"
        ) from error
    return redis


def require_redis_asyncio() -> ModuleType:
    """The `redis.asyncio` module (redis-py >= 4.2), or a clear ImportError."""
    require_redis()
    import redis.asyncio

    return redis.asyncio


def as_text(value: bytes | str | None) -> str | None:
    """Redis replies are bytes or str depending on the client's decode_responses."""
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8")


def check_client(client: object, *, want_async: bool, owner: str) -> None:
    """Refuse a client of the wrong kind at construction, not at the first command."""
    redis = require_redis()
    import redis.asyncio

    sync_kinds = (redis.Redis, redis.RedisCluster)
    async_kinds = (redis.asyncio.Redis, redis.asyncio.RedisCluster)
    if want_async and isinstance(client, sync_kinds):
        raise TypeError(f"{owner} needs an async client (redis.asyncio.Redis), got a sync redis.Redis")
    if not want_async and isinstance(client, async_kinds):
        raise TypeError(f"{owner} needs a sync client (redis.Redis), got redis.asyncio.Redis; "
                        "use AsyncRedisHistoryStore")
