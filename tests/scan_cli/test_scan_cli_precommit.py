"""The pre-commit hook, run the way pre-commit runs it: `pre-commit try-repo` on a small git repo.

try-repo clones the hook repository at its HEAD commit plus *tracked* uncommitted changes;
files not yet added to git would be missing. So the test snapshots the working tree (the
files a `pip install` needs and the hook manifest) into a fresh git repository and points
try-repo at that: it checks exactly the code on disk, whatever the state of the checkout.

pre-commit then builds its own virtualenv and pip-installs the snapshot into it, once per
try-repo call (each call clones the hook repository afresh). The test first tries offline: the
virtualenv sees the base interpreter's site-packages and pip is told not to use an index. That
works on an interpreter with the dependencies installed globally; in a fresh virtualenv the base
interpreter lacks them, so pip falls back to the configured index. Whichever way the first call
installed, the second installs the same way. Slow (tens of seconds): `-m "not slow"` skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scan_cli_support import CLEAN_APP, REPO_ROOT, STATEFUL_APP

pytestmark = pytest.mark.slow

_GIT_IDENTITY = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                 "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **_GIT_IDENTITY})


def _snapshot_hook_repo(destination: Path) -> Path:
    """A one-commit git repository holding the installable project as it is on disk now."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    destination.mkdir()
    shutil.copytree(REPO_ROOT / "autogen_doctor", destination / "autogen_doctor", ignore=ignore)
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md", "LICENSE"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, destination / name)
    if not (destination / "README.md").exists():  # pyproject names it; the lead assembles it later
        (destination / "README.md").write_text("# autogen-doctor\n")
    _git(destination, "init", "-q")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-q", "-m", "snapshot")
    return destination


def _try_repo(target: Path, hook_repo: Path, home: Path, *files: str, offline: bool):
    """`pre-commit try-repo` on `files`; `offline`: install the hook from installed packages only."""
    env = {**os.environ, **_GIT_IDENTITY, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1",
           "PRE_COMMIT_COLOR": "never"}
    if offline:
        env.update({"VIRTUALENV_SYSTEM_SITE_PACKAGES": "1", "PIP_NO_INDEX": "1",
                    "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return subprocess.run(["pre-commit", "try-repo", str(hook_repo), "autogen-doctor", "--files", *files],
                          cwd=target, env=env, capture_output=True, text=True, timeout=600)


def test_pre_commit_hook_blocks_state_loss_and_passes_clean_files(tmp_path):
    if shutil.which("pre-commit") is None or shutil.which("git") is None:
        pytest.fail("pre-commit and git are needed (installed with the [test] extra)")
    hook_repo = _snapshot_hook_repo(tmp_path / "hook-repo")
    target = tmp_path / "service"
    (target / "app").mkdir(parents=True)
    (target / "app" / "main.py").write_text(STATEFUL_APP)
    (target / "app" / "clean.py").write_text(CLEAN_APP)
    (target / ".github").mkdir()
    (target / ".github" / "ci.yml").write_text("on: push\njobs: {}\n")
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    home = tmp_path / "pre-commit-home"

    offline = True
    failing = _try_repo(target, hook_repo, home, "app/main.py", "app/clean.py", offline=offline)
    if failing.returncode != 1 and "CalledProcessError" in failing.stdout + failing.stderr:
        # The offline install could not work here (dependencies or build tools missing from the
        # base interpreter, as in a fresh virtualenv): let pip use its configured index, for
        # this call and the next.
        offline = False
        shutil.rmtree(home, ignore_errors=True)
        failing = _try_repo(target, hook_repo, home, "app/main.py", "app/clean.py", offline=offline)
    output = failing.stdout + failing.stderr
    assert failing.returncode == 1, output
    assert "autogen-doctor" in output and "Failed" in output
    assert "app/main.py:" in output and "AD101" in output

    passing = _try_repo(target, hook_repo, home, "app/clean.py", ".github/ci.yml", offline=offline)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout
