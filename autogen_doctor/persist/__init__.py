"""The fix kit: keep AutoGen conversation state in Redis so every worker and pod sees it.

- `RedisStateStore`: AgentChat agent/team state (`save_state` / `load_state`), one versioned
  record per session, optimistic concurrency (`ConcurrentTurnError`, `run_turn` retries), TTL.
- `RedisHistoryStore` / `AsyncRedisHistoryStore`: message transcripts with atomic appends.

Needs the `redis` extra (`pip install 'autogen-doctor[redis]'`); redis is imported only when a
store is built, so importing this package costs nothing without it.
"""

from autogen_doctor.persist.history import AsyncRedisHistoryStore, RedisHistoryStore
from autogen_doctor.persist.state import ConcurrentTurnError, RedisStateStore, StateSnapshot, Stateful

__all__ = [
    "AsyncRedisHistoryStore",
    "ConcurrentTurnError",
    "RedisHistoryStore",
    "RedisStateStore",
    "StateSnapshot",
    "Stateful",
]
