"""Issue 12 item 3: `probe --serve` on a service with no identity at all (no middleware, no pid
header or field) still names the worker of every reply, from the OS: the probe started the
service, so it knows the process tree and asks /proc which process holds each connection."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from serve_targets.processes import MARKER_NAME, new_marker, wait_until_gone

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS = REPO_ROOT / "tests" / "serve_targets"

needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def _serve(tmp_path, fmt):
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    marker = new_marker()
    command = f"PLAIN_APP_PIDS_DIR={pids_dir} uvicorn plain_dict_app:api --app-dir {TARGETS} --log-level warning"
    cli = subprocess.Popen([sys.executable, "-m", "autogen_doctor", "probe", "--serve", command, "--workers", "1,3",
                            "--sessions", "8", "--turns", "4", "--seed", "5", "--format", fmt],
                           cwd=REPO_ROOT, env={**os.environ, MARKER_NAME: marker, "NO_COLOR": "1"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = cli.communicate(timeout=180)
    assert wait_until_gone(marker, timeout_s=5) == []
    written = [json.loads(path.read_text()) for path in pids_dir.iterdir()]
    return cli, out, err, {item["pid"]: item for item in written}


@needs_proc
def test_serve_names_real_worker_pids_of_an_uninstrumented_service(tmp_path):
    cli, out, err, processes = _serve(tmp_path, "json")
    assert cli.returncode == 1, err
    runs = {run["workers"]: run["result"] for run in json.loads(out)["runs"]}
    for result in runs.values():
        assert result["identity"] == "os" and result["identity_source"] == "os /proc"
        assert all(row["pid"] is not None for row in result["backends"])
    # One worker: uvicorn serves from the process --serve started (a child of the probe).
    (single,) = runs[1]["backends"]
    assert processes[int(single["pid"])]["parent"] == cli.pid
    assert runs[1]["verdict"] == "inconclusive"
    # Three workers: every reply came from a worker whose parent is the served process, and the
    # map shows several of them, so the loss is pinned on process-local state.
    pids = {int(row["pid"]) for row in runs[3]["backends"]}
    assert len(pids) >= 2
    for pid in pids:
        assert processes[pid]["grandparent"] == cli.pid and processes[pid]["parent"] != cli.pid
    assert runs[3]["verdict"] == "state-loss" and runs[3]["cause"] == "process-local-state"


@needs_proc
def test_serve_session_map_shows_pids_not_question_marks(tmp_path):
    cli, out, err, processes = _serve(tmp_path, "text")
    assert cli.returncode == 1, err
    workers = [pid for pid, item in processes.items() if item["grandparent"] == cli.pid]
    assert len(workers) == 3
    assert any(str(pid) in out for pid in workers)
    assert "identity from os /proc" in out


@needs_proc
def test_when_the_os_names_no_worker_the_report_says_why():
    """The OS is asked about a process tree that does not hold the service's sockets (a `sleep`
    standing in for a server behind a proxy): no PID is invented, and a note gives the reason."""
    from autogen_doctor.probe.command import run_probe
    from autogen_doctor.probe.options import ProbeOptions
    from support.services import uvicorn_service

    bystander = subprocess.Popen(["sleep", "60"])
    try:
        with uvicorn_service("plain_dict_app:api", workers=1, app_dir=TARGETS) as service:
            run = run_probe(ProbeOptions(url=service.url + "/chat", sessions=2, turns=2, seed=1, quiet=True,
                                         os_identity_root=bystander.pid))
    finally:
        bystander.kill()
        bystander.wait()
    assert all(record.backend.pid is None for record in run.transcript.records)
    assert run.transcript.identity_source is None
    assert run.note and "the OS could not name a worker" in run.note and f"pid {bystander.pid}" in run.note
