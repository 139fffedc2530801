"""Fixtures for the hostile-repository tests (helpers live in hostile_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_support import STATEFUL_APP  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A one-file service that AD101 flags, in its own folder."""
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text(STATEFUL_APP)
    return root

