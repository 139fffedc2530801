"""Build the real-target venvs that CI needs, all at once, while the rest of the suite runs.

`.ci/run` starts this in the background before the tests: each venv is built under the same
lock `target_python` takes, so a test that needs one waits for it instead of building it again.
Only the targets that run without a microsoft/autogen checkout are built. Needs nothing but the
standard library (it may start before the project's test extra is installed).

    python tests/real_targets/prebuild.py
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as conftest.py does

from real_targets.venvs import target_python  # noqa: E402

# name -> where its requirements are, as the tests ask for them (modules that import nothing
# outside the standard library: httpx and the project may not be installed yet)
CI_TARGETS = {
    "agentchat057": "real_targets.agentchat057_env:REQUIREMENTS",
    "chainlit": "real_targets.pins:CHAINLIT_REQUIREMENTS",
    "fastagency": "real_targets.pins:FASTAGENCY_REQUIREMENTS",
}


def _requirements(reference: str) -> list[str]:
    import importlib

    module, _, name = reference.partition(":")
    return list(getattr(importlib.import_module(module), name))


def _build(name: str) -> str:
    started = time.monotonic()
    try:
        target_python(name, _requirements(CI_TARGETS[name]))
    except BaseException as error:  # pytest's fail/skip outcomes too: report, never raise
        return f"{name}: not built ({type(error).__name__}: {error})"
    return f"{name}: ready in {time.monotonic() - started:.0f}s"


def main() -> int:
    with ThreadPoolExecutor(max_workers=len(CI_TARGETS)) as pool:
        for line in pool.map(_build, CI_TARGETS):
            print(f"prebuild: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
