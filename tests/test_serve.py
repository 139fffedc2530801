"""`probe --serve`: command adaptation, the served() lifecycle, and the CLI end to end.

Real servers throughout: uvicorn (and gunicorn) with several workers on loopback ports, a real
redis-server for the service that keeps state. Processes are tracked by a marker in their
environment (tests/serve_targets/processes.py), which every worker inherits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.serve import (
    FALLBACK_SETTLE_S_PER_WORKER,
    ServedRun,
    ServeError,
    adapt_command,
    comparison_lines,
    serve_exit_code,
    served,
)
from autogen_doctor.probe.verdict import BackendStats, Verdict
from serve_targets.processes import MARKER_NAME, marked_processes, new_marker, wait_for_count, wait_until_gone

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = Path(__file__).resolve().parent / "serve_targets"
INPROC = f"uvicorn inproc_app:api --app-dir {TARGETS} --log-level warning"


# --- adapting the command ------------------------------------------------------------


def test_uvicorn_command_gets_workers_and_loopback_bind():
    adapted = adapt_command("uvicorn app:api --log-level warning", 4, 8123)
    assert adapted.server == "uvicorn"
    argv = list(adapted.argv)
    assert argv[argv.index("--workers") + 1] == "4"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "8123"
    assert argv[1:4] == ["app:api", "--log-level", "warning"]


def test_python_dash_m_and_runner_prefixes_are_recognised():
    assert adapt_command("python -m uvicorn app:api", 2, 9000).argv[:3] == ("python", "-m", "uvicorn")
    assert adapt_command("python3.11 -u -m hypercorn app:api", 2, 9000).server == "hypercorn"
    adapted = adapt_command("uv run gunicorn app:api -k uvicorn.workers.UvicornWorker", 3, 9000)
    assert adapted.argv[:3] == ("uv", "run", "gunicorn")
    assert adapted.argv[-4:] == ("--workers", "3", "--bind", "127.0.0.1:9000")


def test_gunicorn_and_hypercorn_bind_with_host_and_port():
    gunicorn = adapt_command("gunicorn app:api -k uvicorn.workers.UvicornWorker", 4, 8200)
    assert "--bind" in gunicorn.argv and "127.0.0.1:8200" in gunicorn.argv
    hypercorn = adapt_command("hypercorn app:api", 2, 8201)
    assert hypercorn.argv[-4:] == ("--workers", "2", "--bind", "127.0.0.1:8201")


def test_leading_assignments_become_the_environment():
    adapted = adapt_command("REDIS_URL=redis://127.0.0.1:1/0 DEBUG=1 uvicorn app:api", 1, 8000)
    assert adapted.env == {"REDIS_URL": "redis://127.0.0.1:1/0", "DEBUG": "1"}
    assert adapted.argv[0].endswith("uvicorn") or adapted.argv[1:3] == ("-m", "uvicorn")


@pytest.mark.parametrize(
    "command, words",
    [
        ("uvicorn app:api --workers 2", "--workers"),
        ("uvicorn app:api --workers=2", "--workers"),
        ("gunicorn app:api -w4", "-w"),
        ("uvicorn app:api --port 8000", "--port"),
        ("uvicorn app:api --host 0.0.0.0", "--host"),
        ("gunicorn app:api --bind=0.0.0.0:80", "--bind"),
        ("hypercorn app:api -b 0.0.0.0:80", "-b"),
        ("uvicorn app:api --reload", "--reload"),
        ("gunicorn app:api -D", "-D"),
        ("gunicorn app:api -RD", "-D"),  # bundled switches, as argparse reads them
        ("gunicorn app:api -DR", "-D"),
        ("gunicorn app:api -Rw4", "-w"),
        ("uvicorn app:api --ssl-keyfile k.pem", "--ssl-keyfile"),
        ("flask run", "uvicorn, gunicorn or hypercorn"),
        ("python app.py", "uvicorn, gunicorn or hypercorn"),
        ("uvicorn app:api && echo done", "without a shell"),
        ("", "needs a server command"),
        ("uvicorn 'app:api", "cannot parse"),
    ],
)
def test_commands_that_cannot_be_adapted_are_refused_in_one_line(command, words):
    with pytest.raises(UserError) as refused:
        adapt_command(command, 4, 8000)
    message = str(refused.value)
    assert words in message
    assert "\n" not in message


def test_options_that_merely_share_a_prefix_are_not_refused():
    adapted = adapt_command("gunicorn app:api --worker-class uvicorn.workers.UvicornWorker --backlog 64", 2, 8000)
    assert "--worker-class" in adapted.argv
    adapted = adapt_command("uvicorn app:api --portable-flag-lookalike=1", 2, 8000)
    assert "--portable-flag-lookalike=1" in adapted.argv


# --- the exit code and the comparison -------------------------------------------------


def _run(workers: int, verdict: str, cause: str | None = None, backends: int = 1) -> ServedRun:
    result = Verdict(verdict=verdict, cause=cause,
                     backends=[BackendStats(pod=None, pid=str(100 + n), replies=4) for n in range(backends)])
    return ServedRun(workers=workers, command="uvicorn app:api", verdict=result, exit_code=result.exit_code())


def test_state_loss_in_any_run_fails_the_comparison():
    runs = [_run(1, "inconclusive"), _run(4, "state-loss", "process-local-state", 4)]
    assert serve_exit_code(runs) == 1
    assert serve_exit_code([_run(1, "state-loss", "not-rehydrated"), _run(4, "pass", backends=4)]) == 1


def test_single_worker_inconclusive_does_not_hide_a_multi_worker_pass():
    assert serve_exit_code([_run(1, "inconclusive"), _run(4, "pass", backends=4)]) == 0
    assert serve_exit_code([_run(1, "inconclusive"), _run(4, "inconclusive", backends=1)]) == 3
    assert serve_exit_code([_run(1, "inconclusive")]) == 3


def test_a_run_that_could_not_be_probed_gives_two_unless_loss_was_proven():
    failed = ServedRun(workers=4, command="uvicorn app:api", error="every request failed", exit_code=2)
    assert serve_exit_code([_run(1, "inconclusive"), failed]) == 2
    assert serve_exit_code([_run(2, "state-loss", "process-local-state", 2), failed]) == 1


def test_comparison_lines_name_verdict_and_cause_per_worker_count():
    lines = comparison_lines([_run(1, "inconclusive"), _run(4, "state-loss", "process-local-state", 4)])
    assert lines[0].startswith("1 worker:") and "no loss seen (inconclusive: one backend)" in lines[0]
    assert lines[1].startswith("4 workers:") and "state-loss (process-local-state)" in lines[1]


# --- served(): the lifecycle with real servers ----------------------------------------


def _chat_pids(base_url: str, requests: int) -> set[str]:
    """Backends that answer `requests` chat turns sent 8 at a time, each on a new connection."""

    with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:

        def one(number: int) -> str:
            reply = client.post(base_url + "/chat", json={"session_id": f"s{number}", "message": "hi"})
            return reply.headers["x-backend-pid"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            return set(pool.map(one, range(requests)))


def test_served_yields_only_once_every_worker_answers_and_stops_them_all(tmp_path):
    # Workers come up 0, 1 and 2 seconds apart: yielding at the first answer would miss two.
    marker = new_marker()
    started = time.monotonic()
    env = {MARKER_NAME: marker, "SERVE_TARGET_STAGGER_DIR": str(tmp_path)}
    with served(INPROC, 3, env=env) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert time.monotonic() - started >= 2.0
        assert len(marked_processes(marker)) >= 4  # the supervisor and its 3 workers
        assert len(_chat_pids(base_url, 60)) == 3
    assert wait_until_gone(marker, timeout_s=5) == []


def test_served_without_identity_headers_or_proc_waits_a_fixed_settle_time_instead(monkeypatch):
    # Where the OS cannot name workers (no /proc: macOS, some containers) readiness falls back to
    # a fixed settle time. This machine has /proc, so its absence is faked here; the real OS path
    # is tested in tests/probe/test_readiness_os_identity.py.
    from autogen_doctor.probe import readiness

    monkeypatch.setattr(readiness, "os_identity_unavailable", lambda *args: "no /proc (test)")
    marker = new_marker()
    notes: list[str] = []
    started = time.monotonic()
    with served(INPROC, 2, env={MARKER_NAME: marker, "SERVE_TARGET_ANONYMOUS": "1"}, notify=notes.append) as url:
        waited = time.monotonic() - started
        reply = httpx.get(url + "/", timeout=5)
        assert reply.status_code == 404 and "x-backend-pid" not in reply.headers
    assert waited >= 2 * FALLBACK_SETTLE_S_PER_WORKER
    assert notes == []  # no "only k of n workers" note: it never could count them
    assert wait_until_gone(marker, timeout_s=5) == []


def test_served_stops_the_server_when_the_block_raises():
    marker = new_marker()
    with pytest.raises(KeyboardInterrupt):
        with served(INPROC, 2, env={MARKER_NAME: marker}):
            assert len(marked_processes(marker)) >= 3
            raise KeyboardInterrupt
    assert wait_until_gone(marker, timeout_s=5) == []


@pytest.mark.parametrize("workers, words", [(1, "exited with code"), (2, "workers keep exiting")])
def test_a_server_that_fails_at_start_gives_a_one_line_error_with_its_log_tail(workers, words):
    # One worker: uvicorn itself exits. Several: its supervisor keeps replacing dying workers.
    marker = new_marker()
    started = time.monotonic()
    with pytest.raises(ServeError) as failed:
        with served(f"uvicorn crash_app:api --app-dir {TARGETS}", workers, env={MARKER_NAME: marker}):
            pytest.fail("a crashing server must not be yielded")
    assert words in str(failed.value) and "\n" not in str(failed.value)
    assert time.monotonic() - started < 30
    assert "missing SETTING_XYZ" in failed.value.log_tail
    assert wait_until_gone(marker, timeout_s=5) == []


def test_a_server_that_never_answers_times_out_and_is_killed():
    marker = new_marker()
    started = time.monotonic()
    with pytest.raises(ServeError) as failed:
        with served(f"uvicorn hang_app:api --app-dir {TARGETS}", 2, env={MARKER_NAME: marker},
                    ready_timeout_s=3, stop_grace_s=1):
            pytest.fail("a hanging server must not be yielded")
    assert "did not answer" in str(failed.value)
    assert time.monotonic() - started < 15
    assert wait_until_gone(marker, timeout_s=5) == []


def test_a_port_already_taken_is_refused_before_starting():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match="already in use"):
            with served(INPROC, 1, port=port):
                pytest.fail("must not start on a busy port")


def test_a_missing_server_program_is_a_one_line_error():
    with pytest.raises(UserError, match="cannot start"):
        with served("/nonexistent/bin/uvicorn app:api", 1):
            pytest.fail("must not start")


# --- the CLI end to end ---------------------------------------------------------------


def _cli(args: list[str], marker: str, **popen) -> subprocess.Popen[str]:
    env = {**os.environ, MARKER_NAME: marker, "NO_COLOR": "1"}
    env.update(popen.pop("env", {}))
    return subprocess.Popen([sys.executable, "-m", "autogen_doctor", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_serve_shows_no_loss_at_one_worker_and_state_loss_at_four():
    marker = new_marker()
    cli = _cli(["probe", "--serve", INPROC, "--workers", "1,4", "--sessions", "8", "--turns", "4"], marker)
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 1, err
    assert "1 worker:  no loss seen (inconclusive: one backend)" in out
    assert "4 workers: state-loss (process-local-state)" in out
    assert "Works with one worker, loses memory with 4" in out
    assert wait_until_gone(marker, timeout_s=5) == []


def test_serve_passes_when_state_lives_in_redis(redis_url):
    marker = new_marker()
    cli = _cli(["probe", "--serve", f"uvicorn redis_app:api --app-dir {TARGETS} --log-level warning",
                "--workers", "1,2", "--format", "json"], marker, env={"REDIS_URL": redis_url})
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, err
    document = json.loads(out)
    assert [run["workers"] for run in document["runs"]] == [1, 2]
    assert document["runs"][0]["result"]["verdict"] == "inconclusive"
    assert document["runs"][1]["result"]["verdict"] == "pass"
    assert len(document["runs"][1]["result"]["backends"]) == 2
    assert document["exit_code"] == 0
    assert wait_until_gone(marker, timeout_s=5) == []


def test_serve_runs_gunicorn_with_uvicorn_workers_and_writes_one_file_per_worker_count(tmp_path):
    marker = new_marker()
    command = f"gunicorn inproc_app:api -k uvicorn.workers.UvicornWorker --chdir {TARGETS} --log-level warning"
    cli = _cli(["probe", "--serve", command, "--workers", "2", "--quiet", "--format", "html",
                "--output", str(tmp_path / "report.html"), "--record", str(tmp_path / "run.jsonl")], marker)
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 1, err
    assert "2 workers: state-loss (process-local-state)" in out
    page = (tmp_path / "report.2w.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "process-local-state" in page
    recorded = (tmp_path / "run.2w.jsonl").read_text().splitlines()
    assert len(recorded) >= 8 * 4  # one record per turn, plus the run header
    assert wait_until_gone(marker, timeout_s=5) == []


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_interrupting_serve_mid_probe_leaves_no_process_behind(tmp_path, signum, exit_code):
    marker = new_marker()
    touch = tmp_path / "requests.log"
    cli = _cli(["probe", "--serve", INPROC, "--workers", "3", "--sessions", "8", "--turns", "6"], marker,
               env={"SERVE_TARGET_DELAY_S": "0.5", "SERVE_TARGET_TOUCH": str(touch)})
    try:
        # The CLI itself, the uvicorn supervisor and 3 workers; then wait for the probe to be under way.
        assert len(wait_for_count(marker, 5, exclude=(cli.pid,), timeout_s=30)) >= 4
        deadline = time.monotonic() + 30
        while not (touch.exists() and touch.read_text().count("\n") >= 3) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert touch.exists(), "the probe never reached the service"
        assert cli.poll() is None, "the run ended before it could be interrupted"
        cli.send_signal(signum)
        _, err = cli.communicate(timeout=30)
        assert cli.returncode == exit_code, err
        assert "interrupted; the service (3 workers) was stopped" in err and "Traceback" not in err
        assert wait_until_gone(marker, exclude=(cli.pid,), timeout_s=10) == []
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux only")
def test_killing_serve_outright_still_stops_the_service(tmp_path):
    # SIGKILL runs no cleanup code in autogen-doctor; the kernel's parent-death signal does it.
    marker = new_marker()
    touch = tmp_path / "requests.log"
    cli = _cli(["probe", "--serve", INPROC, "--workers", "2", "--sessions", "8", "--turns", "6"], marker,
               env={"SERVE_TARGET_DELAY_S": "0.5", "SERVE_TARGET_TOUCH": str(touch)})
    try:
        deadline = time.monotonic() + 30
        while not touch.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(marked_processes(marker, exclude=(cli.pid,))) >= 3  # supervisor and 2 workers
        cli.kill()
        cli.communicate(timeout=30)
        assert wait_until_gone(marker, exclude=(cli.pid,), timeout_s=15) == []
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


def test_serve_refuses_a_full_url_and_a_conflicting_command_without_starting_anything():
    marker = new_marker()
    cli = _cli(["probe", "http://example.com/chat", "--serve", INPROC], marker)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 2 and "as a path" in err
    cli = _cli(["probe", "--serve", INPROC + " --workers 2"], marker)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 2 and "--workers" in err and "Traceback" not in err
    cli = _cli(["probe", "--serve", INPROC, "--workers", "1,4", "--format", "html"], marker)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 2 and "needs --output" in err
    assert marked_processes(marker) == []


@pytest.mark.parametrize("command", [
    "gunicorn app:api -R",  # a bundle of harmless switches
    "gunicorn app:api -kuvicorn.workers.UvicornWorker",  # a value that happens to hold R and D
    "gunicorn app:api -k uvicorn.workers.UvicornWorker -R",
])
def test_short_options_that_are_not_refused_pass_through(command):
    adapted = adapt_command(command, 2, 8000)
    assert adapted.argv[-4:] == ("--workers", "2", "--bind", "127.0.0.1:8000")
    assert all(token in adapted.argv for token in command.split()[1:])
