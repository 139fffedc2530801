"""Shared by the hostile-repository tests: real trees on disk, the real command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# STATEFUL_APP, a handler keeping each conversation in a module-level dict (AD101 reports it),
# is the scan CLI tests' own: re-exported for the hostile-repository tests.
from scan_cli.scan_cli_support import STATEFUL_APP  # noqa: F401


def scan(cwd: Path, *args: str, timeout: float = 120, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`autogen-doctor scan ARGS` run for real in `cwd` (stdout and stderr as text)."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    command = [*prefix, sys.executable, "-m", "autogen_doctor", "scan", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def one_error_line(completed: subprocess.CompletedProcess) -> str:
    """The single `autogen-doctor: error:` line on stderr (asserts there is exactly one line)."""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("autogen-doctor: error: "), completed.stderr
    assert "Traceback" not in completed.stderr and "internal error" not in completed.stderr
    return lines[0]


def without_file_permission_override() -> tuple[str, ...]:
    """A command prefix under which mode 000 means unreadable, even for root.

    As root, permission bits are not enforced; setpriv drops the two capabilities that
    override them. Skips when neither applies.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")
