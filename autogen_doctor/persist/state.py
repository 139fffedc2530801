"""Agent and team state in Redis, one versioned record per session, safe under concurrent turns.

The fixed pattern for an AgentChat service: build the agent (or team) fresh for every request,
restore the session's state into it, run the turn, save the state back.

    store = RedisStateStore.from_url(os.environ["REDIS_URL"], ttl_seconds=86400)
    async with store.session(session_id, build_agent()) as agent:   # load_state before, save_state after
        result = await agent.run(task=message)

Concurrency is optimistic: each record carries a version; a save succeeds only if the version is
still the one the turn loaded (checked and written atomically by a Lua script on the server).
When two turns of one session overlap, the second save raises `ConcurrentTurnError` instead of
silently overwriting the first turn's state. `run_turn` handles that for you: it re-runs the
turn on a freshly built agent with the fresh state, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import json
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Protocol, TypeVar

from autogen_doctor.persist._redis import ReplicaAcknowledgement, as_text, check_client, require_redis_asyncio

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

DEFAULT_STATE_PREFIX = "autogen-doctor:state:"
DEFAULT_TTL_SECONDS = 86_400
DEFAULT_MAX_RETRIES = 5
DEFAULT_REPLICA_TIMEOUT_SECONDS = 1.0

# Compare-and-set on the version field, then write and refresh the TTL, all in one step on the
# server. Returns the new version, or -1 when another turn saved first. A missing record counts
# as version 0, so the first two turns of a new session cannot both "create" it.
_SAVE_IF_VERSION = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then
  return -1
end
local next_version = current + 1
redis.call('HSET', KEYS[1], 'version', next_version, 'state', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return next_version
"""


class Stateful(Protocol):
    """Anything AgentChat can save and restore: agents, teams, model contexts, memories."""

    async def save_state(self) -> Mapping[str, Any]: ...

    async def load_state(self, state: Mapping[str, Any]) -> None: ...


AgentT = TypeVar("AgentT", bound=Stateful)
ResultT = TypeVar("ResultT")


class ConcurrentTurnError(RuntimeError):
    """Another turn of the same session saved its state after this turn loaded it.

    Saving would overwrite that turn's update, so nothing was saved. Re-run the turn on fresh
    state (`RedisStateStore.run_turn` does) or report a retryable error to the client.
    """

    def __init__(self, session_id: str, loaded_version: int) -> None:
        super().__init__(
            f"session {session_id!r} changed while this turn ran (loaded version {loaded_version}); "
            "state not saved"
        )
        self.session_id = session_id
        self.loaded_version = loaded_version


@dataclass(frozen=True)
class StateSnapshot:
    """A session's stored state and its version (0 and None when nothing is stored)."""

    state: dict[str, Any] | None
    version: int


class RedisStateStore:
    """Versioned per-session agent/team state in Redis (an async `redis.asyncio.Redis` client).

    Records are Redis hashes `{version, state}` under `prefix + session_id`, with the TTL
    refreshed on every save (`ttl_seconds=None` keeps them forever). Every command touches
    that one key, so the store works unchanged on `redis.asyncio.RedisCluster`.

    `wait_for_replicas=N` makes each save wait (Redis `WAIT`, at most `replica_timeout_seconds`)
    until N replicas hold it, and raise `NotReplicatedError` otherwise: a save that returned
    then survives a Sentinel failover.
    """

    def __init__(
        self,
        client: "AsyncRedis",
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_STATE_PREFIX,
        max_retries: int = DEFAULT_MAX_RETRIES,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> None:
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive, or None for no expiry")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        check_client(client, want_async=True, owner="RedisStateStore")
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.max_retries = max_retries
        self.acknowledgement = ReplicaAcknowledgement(
            client, wait_for_replicas, replica_timeout_seconds, owner="RedisStateStore")
        self._save_script = client.register_script(_SAVE_IF_VERSION)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        prefix: str = DEFAULT_STATE_PREFIX,
        max_retries: int = DEFAULT_MAX_RETRIES,
        wait_for_replicas: int = 0,
        replica_timeout_seconds: float = DEFAULT_REPLICA_TIMEOUT_SECONDS,
    ) -> "RedisStateStore":
        """A store on a new async client for `url` (`redis://host:6379/0`, `rediss://...`).

        For a Cluster or Sentinel, build the client yourself and pass it to the constructor.
        """
        client = require_redis_asyncio().Redis.from_url(url)
        return cls(client, ttl_seconds=ttl_seconds, prefix=prefix, max_retries=max_retries,
                   wait_for_replicas=wait_for_replicas, replica_timeout_seconds=replica_timeout_seconds)

    def key(self, session_id: str) -> str:
        """The Redis key holding `session_id`'s state."""
        return self.prefix + session_id

    async def load(self, session_id: str) -> StateSnapshot:
        """The stored state of `session_id` and its version."""
        version, state = await self.client.hmget(self.key(session_id), ["version", "state"])
        text = as_text(state)
        return StateSnapshot(state=json.loads(text) if text else None, version=int(as_text(version) or 0))

    async def save(self, session_id: str, state: Mapping[str, Any], *, loaded_version: int) -> int:
        """Store `state` if the record is still at `loaded_version`; return the new version.

        Raises `ConcurrentTurnError` (and stores nothing) when another turn saved in between,
        and `NotReplicatedError` (stored on the primary only) when `wait_for_replicas` replicas
        did not confirm the save in time.
        """
        key = self.key(session_id)
        ttl_ms = self.ttl_seconds * 1000 if self.ttl_seconds is not None else 0
        args = [loaded_version, json.dumps(state), ttl_ms]
        if not self.acknowledgement.replicas:
            new_version = await self._save_script(keys=[key], args=args)
        else:
            # WAIT counts this connection's writes: send it in one pipeline with the save.
            async with self.client.pipeline(transaction=False) as pipe:
                await self._save_script(keys=[key], args=args, client=pipe)
                pipe.wait(self.acknowledgement.replicas, self.acknowledgement.timeout_ms)
                new_version, confirmed = await pipe.execute()
        if int(new_version) < 0:
            raise ConcurrentTurnError(session_id, loaded_version)
        if self.acknowledgement.replicas:
            self.acknowledgement.check(key, confirmed)
        return int(new_version)

    async def delete(self, session_id: str) -> None:
        """Forget `session_id`'s state."""
        await self.client.delete(self.key(session_id))

    @asynccontextmanager
    async def session(self, session_id: str, agent: AgentT) -> AsyncIterator[AgentT]:
        """Restore `session_id` into `agent` (built fresh for this turn), yield it, save it after.

        The state is saved only when the block ends without an exception. Raises
        `ConcurrentTurnError` on exit when another turn of the session saved first.
        """
        snapshot = await self.load(session_id)
        if snapshot.state is not None:
            await agent.load_state(snapshot.state)
        yield agent
        state = await agent.save_state()
        await self.save(session_id, state, loaded_version=snapshot.version)

    async def run_turn(
        self,
        session_id: str,
        build: Callable[[], AgentT],
        turn: Callable[[AgentT], Awaitable[ResultT]],
        *,
        max_retries: int | None = None,
    ) -> ResultT:
        """Run `turn` on a fresh `build()` restored from the session; retry on concurrent turns.

        On `ConcurrentTurnError` the whole turn runs again on a newly built agent holding the
        fresh state, so it sees the other turn's messages: up to `max_retries` times (default:
        the store's), with a short random back-off; then the error is raised. A retried turn
        calls the model again, so keep side effects that must happen once outside `turn`.
        `NotReplicatedError` is not retried: that turn's state is saved on the primary already.
        """
        retries = self.max_retries if max_retries is None else max_retries
        for attempt in range(retries + 1):
            try:
                async with self.session(session_id, build()) as agent:
                    return await turn(agent)
            except ConcurrentTurnError:
                if attempt == retries:
                    raise
                # Jitter so two colliding turns do not collide again at the same instant.
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the Redis client's connections."""
        await self.client.aclose()
