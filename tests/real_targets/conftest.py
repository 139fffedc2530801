"""The real-target suite: unmodified third-party AutoGen front ends, each in its own venv.

Opt-in because the first run builds virtualenvs from PyPI (minutes): it runs when CI is set (CI
runs it) or when AUTOGEN_DOCTOR_REAL_TARGETS=1; otherwise every test here is skipped.
"""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    enabled = bool(os.environ.get("CI")) or os.environ.get("AUTOGEN_DOCTOR_REAL_TARGETS") == "1"
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.real_targets)
        if not enabled:
            item.add_marker(pytest.mark.skip(reason="real targets are opt-in: set AUTOGEN_DOCTOR_REAL_TARGETS=1"))
