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
