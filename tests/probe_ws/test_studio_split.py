"""Two AutoGen Studio pods, each with its own database, behind a round-robin balancer: the run
created over HTTP on one pod is unknown to the pod the WebSocket reaches, which refuses the
handshake (Studio closes before accepting, so uvicorn answers 403). The probe must say that the
set-up and the connection reached different backends, not only "HTTP 403".

The pods are the scripted Studio double of test_studio_preset.py (two uvicorn processes, each
with its own in-memory runs) behind a real nginx that names the upstream in X-Served-By."""

import json
import os
import subprocess
import sys

import pytest

from support.services import nginx_binary, nginx_round_robin, uvicorn_service
from test_studio_preset import STUDIO_DOUBLE

pytestmark = pytest.mark.services


def test_studio_preset_names_the_backends_when_setup_and_handshake_split(tmp_path):
    if nginx_binary() is None:
        pytest.skip("nginx is not installed")
    (tmp_path / "studio_double.py").write_text(STUDIO_DOUBLE)
    with uvicorn_service("studio_double:api", app_dir=tmp_path, ready_path="/api/version") as pod_a, \
            uvicorn_service("studio_double:api", app_dir=tmp_path, ready_path="/api/version") as pod_b, \
            nginx_round_robin([pod_a.port, pod_b.port], websocket=True, served_by=True) as balanced:
        # One session at a time: requests alternate between the pods, so every run is created
        # on one pod and its WebSocket lands on the other.
        recording = tmp_path / "turns.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "autogen_doctor", "probe", balanced.replace("http://", "ws://"),
             "--preset", "studio", "--sessions", "1", "--turns", "2", "--concurrency", "1", "--retries", "0",
             "--timeout", "5", "--quiet", "--record", str(recording)],
            capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 2, done.stdout + done.stderr  # every turn failed
    rows = [json.loads(line) for line in recording.read_text().splitlines()]
    errors = [row["error"] for row in rows if "turn" in row]
    assert all(errors), errors
    for error in errors:
        assert "HTTP 403: the WebSocket handshake was refused" in error
        assert "not shared between backends" in error
        # Both pods are named: the one that created the run and the one that refused it.
        assert f"127.0.0.1:{pod_a.port}" in error and f"127.0.0.1:{pod_b.port}" in error
