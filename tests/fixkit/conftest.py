import os
import sys
import uuid
from pathlib import Path

import pytest

# The offline model client shipped with the examples: real AgentChat agents, no LLM.
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix of this test's own, so tests sharing one server never collide."""
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="module")
def redis_cluster_nodes():
    """A private three-primary Redis Cluster for this test module (see support.services)."""
    from support.services import redis_cluster

    yield from _service_or_skip(redis_cluster)


@pytest.fixture
def sentinel_group():
    """A primary, a replica and three sentinels of this test's own."""
    from support.services import redis_sentinel_group

    yield from _service_or_skip(lambda: redis_sentinel_group(replicas=1))


@pytest.fixture
def sentinel_group_two_replicas():
    """A primary, two replicas and three sentinels of this test's own: a failover uses them up."""
    from support.services import redis_sentinel_group

    yield from _service_or_skip(lambda: redis_sentinel_group(replicas=2))


def _service_or_skip(start):
    # Like the session's redis_url: a missing binary fails in CI and skips elsewhere.
    try:
        with start() as service:
            yield service
    except RuntimeError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))
