import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.services import redis_server  # noqa: E402


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: $REDIS_URL when set, else a private redis-server started for the session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    try:
        with redis_server() as url:
            yield url
    except RuntimeError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))
