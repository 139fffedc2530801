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


class NotReplicatedError(RuntimeError):
    """The primary stored the write, but fewer replicas than asked confirmed it in time.

    The write is not rolled back: it is on the primary and usually reaches the replicas
    moments later. But a failover right now could lose it, so do not tell the user the turn
    is safe; answer a retryable error instead (the write itself is not retried).
    """

    def __init__(self, key: str, wanted: int, confirmed: int, timeout_seconds: float) -> None:
        super().__init__(
            f"{key!r}: {confirmed} of {wanted} replica(s) confirmed the write within {timeout_seconds}s"
        )
        self.key = key
        self.wanted = wanted
        self.confirmed = confirmed


class ReplicaAcknowledgement:
    """How many replicas must confirm each write (Redis `WAIT`) before a store returns.

    `WAIT` counts the writes of the connection it runs on, so a store sends it in the same
    pipeline as the write. 0 replicas (the default) sends no `WAIT` at all.
    """

    def __init__(self, client: object, replicas: int, timeout_seconds: float, owner: str) -> None:
        if replicas < 0:
            raise ValueError("wait_for_replicas must be 0 or more")
        if timeout_seconds <= 0:
            raise ValueError("replica_timeout_seconds must be positive (WAIT 0 would wait forever)")
        if replicas and _is_cluster(client):
            raise ValueError(
                f"{owner}: wait_for_replicas needs a single-primary client (plain or Sentinel's "
                "master_for); RedisCluster cannot send WAIT on the connection that wrote"
            )
        self.replicas = replicas
        self.timeout_seconds = timeout_seconds
        self.timeout_ms = max(1, round(timeout_seconds * 1000))

    def check(self, key: str, confirmed: int) -> None:
        """Raise `NotReplicatedError` when `WAIT` answered fewer replicas than wanted."""
        if int(confirmed) < self.replicas:
            raise NotReplicatedError(key, self.replicas, int(confirmed), self.timeout_seconds)


def _is_cluster(client: object) -> bool:
    redis = require_redis()
    import redis.asyncio

    return isinstance(client, (redis.RedisCluster, redis.asyncio.RedisCluster))
