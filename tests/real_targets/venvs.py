"""Separate virtualenvs for real third-party targets (AutoGen Studio, Chainlit, FastAgency, ...).

Each target pins versions that clash with the project's own (autogen-agentchat 0.5.7 for Studio
and the official app_team sample, websockets < 14 for FastAgency), so each runs from its own
virtualenv, built once from PyPI and reused while its requirement list stays the same. The probe
itself always runs from the test interpreter: only the service lives in the target's venv.

Where the venvs live: $AUTOGEN_DOCTOR_TARGET_VENVS, else ~/.cache/autogen-doctor/target-venvs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

READY_MARK = "autogen-doctor-ready.txt"


def venv_root() -> Path:
    configured = os.environ.get("AUTOGEN_DOCTOR_TARGET_VENVS")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "autogen-doctor" / "target-venvs"


def _key(requirements: list[str]) -> str:
    text = "\n".join([sys.version, *sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def target_python(name: str, requirements: list[str], *, timeout_s: float = 900) -> Path:
    """The python of a venv holding exactly `requirements` (pip specifiers), built on first use.

    Fails the test in CI when the build fails (CI must run the real targets); skips elsewhere,
    since a developer machine may be offline.
    """
    folder = venv_root() / f"{name}-{_key(requirements)}"
    python = folder / "bin" / "python"
    if (folder / READY_MARK).exists():
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never build the same venv at once
        if (folder / READY_MARK).exists():
            return python
        shutil.rmtree(folder, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                   *requirements]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            why = "timed out" if result is None else (result.stderr.strip().splitlines() or ["?"])[-1]
            message = f"could not build the {name} venv ({' '.join(requirements)}): {why}"
            import pytest  # here, so that prebuild.py runs before pytest is even installed

            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        (folder / READY_MARK).write_text("\n".join(requirements) + "\n")
    return python
