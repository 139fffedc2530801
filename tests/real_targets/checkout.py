"""The official AutoGen samples, run unmodified from a microsoft/autogen source tree.

The samples (`python/samples/agentchat_fastapi/app_team.py`, `agentchat_chainlit/app_agent.py`,
`core_streaming_handoffs_fastapi/`) are not published on PyPI, and this project never copies their
code. The tests that run them need a checkout named by $AUTOGEN_DOCTOR_AUTOGEN_CHECKOUT (a work
tree, or a bare git directory, of microsoft/autogen; the labels were checked at 027ecf0) and are
skipped without it, in CI too: CI machines reach PyPI but not GitHub. Run them by hand with, e.g.

    AUTOGEN_DOCTOR_AUTOGEN_CHECKOUT=~/src/autogen pytest tests/real_targets
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

CHECKOUT_ENV = "AUTOGEN_DOCTOR_AUTOGEN_CHECKOUT"


def autogen_checkout() -> Path:
    configured = os.environ.get(CHECKOUT_ENV)
    if not configured:
        pytest.skip(f"set {CHECKOUT_ENV} to a microsoft/autogen checkout to run the official samples")
    path = Path(configured).expanduser()
    if not path.exists():
        pytest.fail(f"{CHECKOUT_ENV}={configured} does not exist")
    return path


def copy_sample(sample: str, destination: Path) -> Path:
    """Copy `python/samples/<sample>` from the checkout into `destination` and return the copy.

    A bare git directory (as `git clone --mirror` leaves it) is read with `git archive HEAD`, so the
    files are exactly the committed ones.
    """
    source = autogen_checkout()
    target = destination / sample
    inside = f"python/samples/{sample}"
    if (source / inside).is_dir():
        shutil.copytree(source / inside, target)
        return target
    archive = subprocess.run(["git", f"--git-dir={source}", "archive", "--format=tar", "HEAD", inside],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"no {inside} in {source}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        try:
            tar.extractall(destination, filter="data")
        except TypeError:  # Python before 3.11.4 has no extraction filters; the archive is git's own
            tar.extractall(destination)
    shutil.move(str(destination / inside), str(target))
    shutil.rmtree(destination / "python", ignore_errors=True)
    return target
