"""`autogen-doctor demo` as a user runs it: a subprocess against the real bundled examples
(uvicorn with several workers, AutoGen agents, a private redis-server)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serve_targets.processes import MARKER_NAME, new_marker, wait_until_gone

REPO_ROOT = Path(__file__).resolve().parents[1]


def _demo(args: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT,
          timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "autogen_doctor", "demo", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def _section(out: str, title: str) -> str:
    """The text of one numbered part of the demo's output, up to the next heading."""
    start = out.index(title)
    end = min((index for index in (out.find("\n2/2 ", start + 1), out.find("\nSummary\n", start + 1))
               if index != -1), default=len(out))
    return out[start:end]


@pytest.mark.skipif(shutil.which("redis-server") is None and not os.environ.get("REDIS_URL"),
                    reason="needs redis-server on PATH or REDIS_URL for the fixed example")
def test_demo_shows_the_loss_its_cause_and_the_fix_then_leaves_nothing_running():
    marker = new_marker()
    env = {MARKER_NAME: marker}
    result = _demo([], env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    broken = _section(out, "1/2 broken_inproc")
    fixed = _section(out, "2/2 fixed_redis")
    assert "verdict: STATE-LOSS" in broken and "cause: process-local-state" in broken
    assert "session map" in broken
    assert re.search(r"app\.py:\d+:\d+: AD1\d\d ", broken), "the scan finding must be listed"
    assert re.search(r"explains process-local-state: AD1\d\d", broken)
    assert "verdict: PASS" in fixed and "scan examples/fixed_redis: no findings" in fixed
    assert re.search(r"broken_inproc\s+4 workers: state-loss \(process-local-state\); scan: AD1\d\d", out)
    assert re.search(r"fixed_redis\s+4 workers: pass; scan: no findings", out)
    assert "unexpected" not in out
    # uvicorn supervisors, their workers and the private redis-server are all gone
    assert wait_until_gone(marker, timeout_s=10) == []


def test_demo_without_redis_runs_the_broken_part_and_says_what_it_skipped(tmp_path):
    # An empty PATH hides redis-server; the demo starts uvicorn with this interpreter, not from PATH.
    env = {"PATH": str(tmp_path), "REDIS_URL": ""}
    result = _demo(["--workers", "2", "--sessions", "6", "--turns", "3"], env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cause: process-local-state" in result.stdout
    assert "redis: skipped: no redis-server on PATH and REDIS_URL is not set" in result.stdout
    assert re.search(r"fixed_redis\s+skipped: no redis-server on PATH", result.stdout)


def test_demo_without_a_source_checkout_is_a_one_line_usage_error(tmp_path):
    # A copy of the package with no examples/ beside it, as in a wheel install.
    shutil.copytree(REPO_ROOT / "autogen_doctor", tmp_path / "autogen_doctor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = _demo([], env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("autogen-doctor: error: the demo runs the examples of a source checkout")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, words", [(["--workers", "1"], "--workers must be at least 2"),
                                         (["--turns", "1"], "--turns must be at least 2"),
                                         (["--workers", "99999"], "--workers must be at most 16"),
                                         (["--turns", "100000"], "--turns must be at most 10000")])
def test_demo_refuses_settings_that_cannot_show_the_loss(args, words):
    result = _demo(args, timeout=60)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
