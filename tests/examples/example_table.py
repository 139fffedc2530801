"""Shared bits of the example tests: the table of examples and running the real CLI."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO_ROOT / "examples"


@dataclass(frozen=True)
class Example:
    name: str
    verdict: str  # what `probe` must say under several workers
    cause: str | None
    rule_family: str | None  # what `scan` must report (None: nothing at all)
    classic: bool = False  # needs the classic `autogen` API (pyautogen 0.9)
    concurrent_turns: bool = False  # the loss shows only when a session's turns overlap
    needs_redis: bool = True

    @property
    def path(self) -> Path:
        return EXAMPLES_DIR / self.name


EXAMPLES = [
    Example("broken_inproc", "state-loss", "process-local-state", "AD1", needs_redis=False),
    Example("broken_no_restore", "state-loss", "not-rehydrated", "AD2"),
    Example("broken_team", "state-loss", "not-rehydrated", "AD2", needs_redis=False),
    Example("broken_classic", "state-loss", "process-local-state", "AD1", classic=True, needs_redis=False),
    Example("broken_racy", "state-loss", "lost-update", "AD5", concurrent_turns=True),
    Example("fixed_redis", "pass", None, None),
    Example("fixed_team", "pass", None, None),
    Example("fixed_classic", "pass", None, None, classic=True),
]


def classic_api_installed() -> bool:
    """True when `import autogen` is the classic API (pyautogen 0.2-0.9 / AG2), not the 0.10 proxy."""
    if importlib.util.find_spec("autogen") is None:
        return False
    probe = subprocess.run([sys.executable, "-c", "from autogen import ConversableAgent"],
                           capture_output=True, timeout=60)
    return probe.returncode == 0


def run_cli(*args: str, timeout: float = 180) -> tuple[int, dict, str]:
    """Run `autogen-doctor ARGS --format json`; return (exit code, parsed JSON, stderr)."""
    completed = subprocess.run(
        [sys.executable, "-m", "autogen_doctor", *args, "--format", "json"],
        capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT),
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from autogen-doctor {' '.join(args)} (exit {completed.returncode}): "
                             f"{completed.stdout[:500]} {completed.stderr[-1500:]}") from None
    return completed.returncode, report, completed.stderr
