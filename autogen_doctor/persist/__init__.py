"""The fix kit: keep AutoGen conversation state in Redis so every worker and pod sees it.

- `RedisStateStore`: AgentChat agent/team state (`save_state` / `load_state`), one versioned
  record per session, optimistic concurrency (`ConcurrentTurnError`, `run_turn` retries), TTL.
- `RedisHistoryStore` / `AsyncRedisHistoryStore`: message transcripts with atomic appends.
- `NotReplicatedError`: a write too few replicas confirmed (`wait_for_replicas=N`).

All of them take plain, Cluster and Sentinel clients alike (docs/fixkit.md shows the set-up).

Needs the `redis` extra (`pip install 'autogen-doctor[redis]'`); redis is imported only when a
store is built, so importing this package costs nothing without it.
"""

from autogen_doctor.persist._redis import NotReplicatedError
from autogen_doctor.persist.history import AsyncRedisHistoryStore, RedisHistoryStore
from autogen_doctor.persist.state import ConcurrentTurnError, RedisStateStore, StateSnapshot, Stateful

__all__ = [
    "AsyncRedisHistoryStore",
    "ConcurrentTurnError",
    "NotReplicatedError",
    "RedisHistoryStore",
    "RedisStateStore",
    "StateSnapshot",
    "Stateful",
]
