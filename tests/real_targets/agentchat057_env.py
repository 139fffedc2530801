"""The one virtualenv behind AutoGen Studio and the official app_team.py sample: autogen 0.5.7.

AutoGen Studio 0.4.2.2 (the newest on PyPI) pins autogen-agentchat/core/ext below 0.6, and the
official `agentchat_fastapi/app_team.py` fails on every turn from 0.6 on, so both run on 0.5.7,
and pip resolves one environment for both: Studio's `fastapi[standard]` brings uvicorn with
`websockets`, and `aiofiles` and `pyyaml`, which is all app_team.py imports besides autogen.
"""

from __future__ import annotations

from pathlib import Path

from real_targets.venvs import target_python

REQUIREMENTS = [
    "autogenstudio==0.4.2.2",
    "autogen-agentchat==0.5.7",
    "autogen-core==0.5.7",
    "autogen-ext[openai]==0.5.7",
]


def agentchat057_python() -> Path:
    """The python of the shared autogen 0.5.7 venv (built from PyPI on first use)."""
    return target_python("agentchat057", REQUIREMENTS)
