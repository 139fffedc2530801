"""`--serve` readiness on a service that names no worker in its replies: the OS names the worker
holding each connection, so readiness waits until every worker has answered instead of guessing
a fixed settle time (issue 12 item 3)."""

from pathlib import Path

import pytest

from autogen_doctor.probe.serve import served

TARGETS = Path(__file__).resolve().parents[1] / "serve_targets"

pytestmark = [pytest.mark.services,
              pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")]


def test_serve_is_ready_only_once_every_worker_of_an_uninstrumented_app_answers(tmp_path):
    notes: list[str] = []
    command = f"uvicorn staggered_app:app --app-dir {TARGETS} --log-level warning"
    # Workers come up 0, 1.5, 3 and 4.5 s after start: a fixed settle time per worker (2 s for 4)
    # declares the service ready with the last ones still loading.
    with served(command, 4, env={"STAGGER_DIR": str(tmp_path), "STAGGER_S": "1.5"},
                ready_timeout_s=60, notify=notes.append):
        ready = sorted(path.name for path in tmp_path.glob("ready-*"))
    assert len(ready) == 4, (ready, notes)
    assert notes == []
