"""`autogen-doctor scan` imports only what the scan needs.

On a small project most of a scan is start-up, so a warm scan of a tree without deployment
files must not load the deployment parsers (nor the YAML library under them), and a report
written to a pipe must not load rich. Each case runs the real command in a fresh interpreter
and reads that interpreter's `sys.modules` when it exits.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import autogen_doctor.scan.deploy as deploy_package

# Runs `autogen-doctor ARGS` in this interpreter and writes the loaded module names to OUT
# at exit (after the command's own SystemExit).
_DRIVER = """
import atexit, json, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["autogen-doctor", *args]
from autogen_doctor.cli import main
main()
"""

# The name tests discovery needs; every other module of the deploy package parses files.
_NAME_TESTS = {"names"}


def deploy_parser_modules() -> set[str]:
    """Every module of `autogen_doctor.scan.deploy` except the name tests (read from the
    package, so a parser added later is covered too)."""
    return {f"{deploy_package.__name__}.{module.name}" for module in pkgutil.iter_modules(deploy_package.__path__)
            if module.name not in _NAME_TESTS}


def modules_after(cwd: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules loaded by `autogen-doctor ARGS` run in `cwd`, and the finished process."""
    out = cwd.parent / f"modules-{time.monotonic_ns()}.json"
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    done = subprocess.run([sys.executable, "-c", _DRIVER, str(out), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert out.exists(), done.stderr
    return set(json.loads(out.read_text())), done


def write_old(path: Path, text: str) -> None:
    """Write `path` with an mtime an hour ago: the cache trusts only mtimes that are not recent
    (a file written in the same clock tick as the scan is re-read), so the second scan of these
    files is a truly warm one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))


def three_file_project(root: Path) -> Path:
    project = root / "project"
    write_old(project / "app.py", "from fastapi import FastAPI\n\napp = FastAPI()\nSESSIONS = {}\n\n\n"
                                  "@app.post('/chat')\nasync def chat(session_id: str, text: str):\n"
                                  "    SESSIONS.setdefault(session_id, []).append(text)\n"
                                  "    return {'turns': len(SESSIONS[session_id])}\n")
    write_old(project / "agents.py", "def make_agent(name):\n    return {'name': name}\n")
    write_old(project / "settings.py", "REDIS_URL = 'redis://localhost:6379/0'\n")
    return project


def test_warm_scan_without_deployment_files_loads_no_deploy_parser_yaml_or_rich(tmp_path):
    project = three_file_project(tmp_path)
    scan = ["scan", ".", "--cache-dir", str(tmp_path / "cache")]
    cold_modules, cold = modules_after(project, *scan)
    warm_modules, warm = modules_after(project, *scan)

    assert cold.returncode == warm.returncode == 1, warm.stderr  # AD101 on SESSIONS
    assert warm.stdout == cold.stdout and "app.py" in warm.stdout
    assert "autogen_doctor.scan.deploy.names" in warm_modules  # discovery asked the names
    assert not warm_modules & deploy_parser_modules()
    assert "yaml" not in warm_modules
    assert not {name for name in warm_modules if name == "rich" or name.startswith("rich.")}
    # The warm run answered from the remembered result, so it never needed the fact builder.
    assert "autogen_doctor.scan.facts" in cold_modules
    assert "autogen_doctor.scan.facts" not in warm_modules, \
        "the warm scan loaded the fact builder: not answered from the cache, or imported at start-up"


def test_cold_scan_without_deployment_files_loads_no_yaml_or_rich(tmp_path):
    project = three_file_project(tmp_path)
    modules, done = modules_after(project, "scan", ".", "--no-cache")

    assert done.returncode == 1, done.stderr
    assert "yaml" not in modules
    assert "rich" not in modules


def test_a_deployment_file_loads_the_parsers_it_needs(tmp_path):
    # The other side of the check above: the same command on a tree with a Dockerfile and a
    # compose file does load the parsers, so the absence above is not an accident of the driver.
    project = three_file_project(tmp_path)
    write_old(project / "Dockerfile", "FROM python:3.12\nCMD uvicorn app:app --workers 4\n")
    write_old(project / "compose.yaml", "services:\n  web:\n    build: .\n    deploy:\n      replicas: 3\n")
    modules, done = modules_after(project, "scan", ".", "--cache-dir", str(tmp_path / "cache"))

    assert done.returncode == 1, done.stderr
    assert "autogen_doctor.scan.deploy.dockerfile" in modules
    assert "autogen_doctor.scan.deploy.compose" in modules
    assert "yaml" in modules
    assert "several processes" in done.stdout  # AD4 escalation read the Dockerfile's workers


def test_colour_on_a_terminal_is_what_loads_rich(tmp_path):
    # rich is for colour only: forcing the coloured text path (as a terminal would) loads it.
    project = three_file_project(tmp_path)
    out = tmp_path / "modules.json"
    driver = ("import atexit, json, sys\n"
              f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
              "sys.stdout.isatty = lambda: True\n"
              "sys.argv = ['autogen-doctor', 'scan', '.', '--no-cache']\n"
              "from autogen_doctor.cli import main\nmain()\n")
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    done = subprocess.run([sys.executable, "-c", driver], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert "\x1b[" in done.stdout
    assert "rich" in json.loads(out.read_text())


def test_the_deploy_package_still_offers_its_public_names_without_loading_parsers():
    code = ("import sys\n"
            "from autogen_doctor.scan.deploy import is_deploy_file, parse_deploy_file, scaling_evidence\n"
            "assert 'autogen_doctor.scan.deploy.dockerfile' not in sys.modules\n"
            "from autogen_doctor.scan.deploy import DeployFile, DeployParseError, EphemeralMount, ScalingFact\n"
            "from autogen_doctor.scan.deploy.facts import DeployFile as Direct\n"
            "assert DeployFile is Direct\n"
            "try:\n"
            "    from autogen_doctor.scan.deploy import no_such_name\n"
            "except ImportError:\n"
            "    pass\n"
            "else:\n"
            "    raise SystemExit('no_such_name imported')\n"
            "from pathlib import Path\n"
            "facts = parse_deploy_file(Path('Dockerfile'), 'Dockerfile', 'FROM python\\nCMD gunicorn -w 3 app:app\\n')\n"
            "assert isinstance(facts, DeployFile) and facts.scaling, facts\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
