"""`probe --serve` against hostile commands and servers (REPORT S4a, P1, P2, D1 and issue 12 item 6).

Refusals are checked on the real CLI with real config files in tmp_path (nothing starts). The
escaping workers need a server whose workers call setpgid/setsid: real uvicorn never does, so
tests/serve_targets/fakebin/uvicorn stands in for it (see its docstring).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from security_probe.hostile_server import one_line_error

FAKE_UVICORN = Path(__file__).resolve().parents[1] / "serve_targets" / "fakebin" / "uvicorn"


def serve_probe(*args: object, cwd: Path | None = None, env: dict | None = None, timeout: float = 180):
    return subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# --- P1: daemon and reload modes are refused however they are spelled -------------------------

@pytest.mark.parametrize("command, env, fragment", [
    ("gunicorn app:api -k uvicorn.workers.UvicornWorker", {"GUNICORN_CMD_ARGS": "--daemon"}, "--daemon in GUNICORN_CMD_ARGS"),
    ("GUNICORN_CMD_ARGS='-D --log-level info' gunicorn app:api", {}, "-D in GUNICORN_CMD_ARGS"),
    ("GUNICORN_CMD_ARGS='-RD --log-level info' gunicorn app:api", {}, "-D in GUNICORN_CMD_ARGS"),
    ("uvicorn app:api", {"UVICORN_RELOAD": "true"}, "UVICORN_RELOAD"),
    ("UVICORN_RELOAD=1 uvicorn app:api", {}, "UVICORN_RELOAD"),
    ("uvicorn app:api --reload", {}, "--reload"),
    ("gunicorn app:api --reload", {}, "--reload"),
], ids=["gunicorn-env", "gunicorn-assignment", "gunicorn-bundled-switches", "uvicorn-env", "uvicorn-assignment", "uvicorn-flag", "gunicorn-flag"])
def test_daemon_and_reload_modes_from_flags_and_environment_are_refused(tmp_path, command, env, fragment):
    line = one_line_error(serve_probe("/chat", "--serve", command, "--workers", 2, cwd=tmp_path, env=env))
    assert fragment in line


@pytest.mark.parametrize("name, text, argument, fragment", [
    ("gconf.py", "bind = '0.0.0.0:1'\ndaemon = True\n", "-c gconf.py", "turns on 'daemon'"),
    ("gconf.py", "import os\ndaemon = os.environ.get('D') == '1'\n", "--config gconf.py", "may turn on 'daemon'"),
    ("gconf.py", "reload = True\n", "--config=gconf.py", "turns on 'reload'"),
    ("gunicorn.conf.py", "daemon = True\n", "", "turns on 'daemon'"),
], ids=["literal", "expression", "reload", "default-file"])
def test_gunicorn_config_files_are_read_never_run(tmp_path, name, text, argument, fragment):
    marker = tmp_path / "ran"
    (tmp_path / name).write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + text)
    line = one_line_error(serve_probe("/chat", "--serve", f"gunicorn app:api {argument}".strip(), "--workers", 2,
                                      cwd=tmp_path))
    assert fragment in line and not marker.exists()


def test_a_harmless_gunicorn_config_is_not_refused_for_daemon(tmp_path):
    (tmp_path / "gconf.py").write_text("daemon = False\nreload = False\naccesslog = '-'\n")
    done = serve_probe("/chat", "--serve", "gunicorn nosuchmodule:api -c gconf.py", "--workers", 1,
                       "--ready-timeout", 5, cwd=tmp_path)
    assert "daemon" not in done.stderr and "reload" not in done.stderr  # it got as far as starting


def test_hypercorn_toml_reloader_is_refused(tmp_path):
    (tmp_path / "hyper.toml").write_text("use_reloader = true\n")
    line = one_line_error(serve_probe("/chat", "--serve", "hypercorn app:api -c hyper.toml", "--workers", 2,
                                      cwd=tmp_path))
    assert "use_reloader" in line


# --- P2 and S4a: escaping workers are stopped; secrets in the command never printed -----------

@pytest.mark.parametrize("escape", ["group", "session"])
def test_workers_that_leave_the_group_or_session_are_stopped(tmp_path, escape):
    pids_file = tmp_path / "pids.txt"
    done = serve_probe("/chat", "--serve", f"{FAKE_UVICORN}", "--workers", "1,2", "--sessions", 2, "--turns", 2,
                       env={"FAKE_WORKERS_ESCAPE": escape, "FAKE_PIDS_FILE": str(pids_file)})
    assert done.returncode in (0, 1, 3), done.stderr  # per-process memory: loss is expected
    pids = [int(line.split()[1]) for line in pids_file.read_text().splitlines()]
    assert len(pids) == 5  # two leaders, three workers
    deadline = time.monotonic() + 5  # a SIGKILLed process can take a moment to be reaped
    while time.monotonic() < deadline and any(running(pid) for pid in pids):
        time.sleep(0.1)
    left = [pid for pid in pids if running(pid)]
    for pid in left:  # never leave them to the next test
        os.kill(pid, 9)
    assert left == []


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "junit"])
def test_secrets_in_serve_assignments_never_reach_a_report(tmp_path, fmt):
    command = (f"OPENAI_API_KEY=sk-SECRETENV REDIS_URL=redis://:SECRETREDIS@127.0.0.1:6379/0 {FAKE_UVICORN}")
    done = serve_probe("/chat", "--serve", command, "--workers", "1,2", "--sessions", 2, "--turns", 2,
                       "--format", fmt, env={"FAKE_PIDS_FILE": str(tmp_path / "pids.txt")})
    assert done.returncode in (0, 1, 3), done.stderr  # per-process memory: loss is expected
    assert "SECRETENV" not in done.stdout + done.stderr and "SECRETREDIS" not in done.stdout + done.stderr
    shown = done.stdout.replace("\\", "")  # markdown escapes _ and [ ]
    if fmt == "json":
        assert json.loads(done.stdout)["serve"].startswith("OPENAI_API_KEY=[redacted]")
    elif fmt != "junit":  # JUnit names runs by worker count only
        assert "OPENAI_API_KEY=[redacted]" in shown


# --- D1 and issue 12 item 6: outputs checked first, and where each report went ---------------

def test_serve_checks_its_output_files_before_starting_a_server(tmp_path):
    pids_file = tmp_path / "pids.txt"
    line = one_line_error(serve_probe("/chat", "--serve", f"{FAKE_UVICORN}", "--workers", "1,2",
                                      "--record", "/proc/nope/run.jsonl", env={"FAKE_PIDS_FILE": str(pids_file)}))
    assert "--record" in line and not pids_file.exists()


def test_serve_output_says_where_each_report_went(tmp_path):
    output = tmp_path / "out" / "report.html"
    done = serve_probe("/chat", "--serve", f"{FAKE_UVICORN}", "--workers", "1,2", "--sessions", 2, "--turns", 2,
                       "--format", "html", "--output", output, env={"FAKE_PIDS_FILE": str(tmp_path / "pids.txt")})
    assert done.returncode in (0, 1, 3), done.stderr  # per-process memory: loss is expected
    for count in (1, 2):
        written = tmp_path / "out" / f"report.{count}w.html"
        assert written.is_file() and f"wrote the report of {count} worker" in done.stderr
        assert str(written) in done.stderr
