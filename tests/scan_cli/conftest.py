"""Fixtures for the scan CLI tests (helpers live in scan_cli_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_cli_support import CLEAN_APP, STATEFUL_APP  # noqa: E402


@pytest.fixture
def stateful_project(tmp_path: Path) -> Path:
    """A tiny service: one file AD101 flags, one clean file."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(STATEFUL_APP)
    (tmp_path / "app" / "clean.py").write_text(CLEAN_APP)
    return tmp_path
