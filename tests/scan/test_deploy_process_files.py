"""Procfile, gunicorn.conf.py and supervisor configs written to disk and checked by the rules."""

from pathlib import Path

import pytest

from autogen_doctor.scan.deploy import DeployParseError, is_deploy_file, parse_deploy_file
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.registry import load_rules


def scan(tmp_path: Path, name: str, text: str, code: str):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert is_deploy_file(path)
    deploy = parse_deploy_file(path, name, path.read_text())
    return list(load_rules()[code].check(Project(roots=[tmp_path], deploy_files=[deploy])))


def test_procfile_web_workers_fire_with_the_process_type(tmp_path):
    text = "release: python manage.py migrate\nweb: gunicorn chat.wsgi --workers 4 --log-file -\n"
    [finding] = scan(tmp_path, "Procfile", text, "AD401")
    assert (finding.line, finding.symbol) == (2, "web")
    assert text.splitlines()[1][finding.column - 1:].startswith("--workers 4")


def test_procfile_celery_worker_fires_ad405_and_commented_line_is_silent(tmp_path):
    text = "# web: uvicorn app:app --workers 8\nworker: celery -A chat worker\n"
    assert scan(tmp_path, "Procfile", text, "AD401") == []
    [finding] = scan(tmp_path, "Procfile", text, "AD405")
    assert finding.symbol == "worker" and finding.line == 2


def test_procfile_single_worker_is_silent(tmp_path):
    assert scan(tmp_path, "Procfile", "web: uvicorn app:app --host 0.0.0.0 --port $PORT\n", "AD401") == []


def test_gunicorn_conf_literal_workers_fire(tmp_path):
    text = 'bind = "0.0.0.0:8000"\nworkers = 4\n'
    [finding] = scan(tmp_path, "gunicorn.conf.py", text, "AD401")
    assert (finding.line, finding.column) == (2, 1) and "4 worker processes" in finding.message


def test_gunicorn_conf_cpu_count_formula_counts_as_several(tmp_path):
    text = "import multiprocessing\n\nworkers = multiprocessing.cpu_count() * 2 + 1\n"
    [finding] = scan(tmp_path, "gunicorn_conf.py", text, "AD401")
    assert finding.line == 3 and "per CPU" in finding.message


def test_gunicorn_conf_environment_default(tmp_path):
    text = 'import os\nworkers = int(os.environ.get("WEB_CONCURRENCY", "3"))\n'
    [finding] = scan(tmp_path, "gunicorn.conf.py", text, "AD401")
    assert "default of $WEB_CONCURRENCY" in finding.message
    assert scan(tmp_path, "gunicorn.conf.py", 'import os\nworkers = int(os.environ["W"])\n', "AD401") == []


def test_gunicorn_conf_one_worker_reload_and_names_resolve(tmp_path):
    assert scan(tmp_path, "gunicorn.conf.py", "workers = 1\n", "AD401") == []
    assert scan(tmp_path, "gunicorn.conf.py", "reload = True\nworkers = 4\n", "AD401") == []
    [finding] = scan(tmp_path, "gunicorn.conf.py", "N = 2\nworkers = N + 1\n", "AD401")
    assert "3 worker processes" in finding.message


def test_gunicorn_conf_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    text = f"open({str(marker)!r}, 'w').write('ran')\nworkers = 2\n"
    assert scan(tmp_path, "gunicorn.conf.py", text, "AD401")
    assert not marker.exists()


def test_gunicorn_conf_syntax_error_raises_with_line(tmp_path):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text("workers = (\n")
    with pytest.raises(DeployParseError, match="line 1"):
        parse_deploy_file(path, "gunicorn.conf.py", path.read_text())


def test_supervisor_numprocs_fire_and_one_is_silent(tmp_path):
    text = ("[supervisord]\nnodaemon=true\n\n[program:chat]\ncommand=uvicorn app:app --port 80%(process_num)02d\n"
            "process_name=%(program_name)s_%(process_num)02d\nnumprocs=4 ; four copies\n")
    [finding] = scan(tmp_path, "supervisord.conf", text, "AD406")
    assert (finding.line, finding.symbol) == (7, "chat") and "4 copies" in finding.message
    assert scan(tmp_path, "supervisord.conf", text.replace("numprocs=4", "numprocs=1"), "AD406") == []


def test_supervisor_program_command_and_environment(tmp_path):
    text = ("[program:web]\ncommand=gunicorn app:app\n    --bind 0.0.0.0:8000\nenvironment=LOG=\"1\",WEB_CONCURRENCY=\"3\"\n"
            "\n[program:worker]\ncommand=celery -A chat worker --pool solo\n;command=celery -A chat worker\n")
    [finding] = scan(tmp_path, "supervisor/conf.d/chat.conf", text, "AD401")
    assert finding.line == 4 and finding.symbol == "web"
    assert scan(tmp_path, "supervisor/conf.d/chat.conf", text, "AD405") == []


def test_conf_d_file_without_program_sections_is_other(tmp_path):
    path = tmp_path / "conf.d" / "site.conf"
    path.parent.mkdir()
    path.write_text("server {\n  listen 80;\n  location / { proxy_pass http://app; }\n}\n")
    assert is_deploy_file(path)
    assert parse_deploy_file(path, "conf.d/site.conf", path.read_text()).kind == "other"


def test_names_that_are_not_process_files():
    for name in ("Procfile.dev", "gunicorn.py", "app.conf", "settings.ini"):
        assert not is_deploy_file(Path(name)), name


def test_tiangolo_style_gunicorn_conf_counts_at_least_two_workers(tmp_path):
    text = ("import multiprocessing\nimport os\n\nweb_concurrency_str = os.getenv('WEB_CONCURRENCY', None)\n"
            "cores = multiprocessing.cpu_count()\nworkers_per_core = float(os.getenv('WORKERS_PER_CORE', '1'))\n"
            "if web_concurrency_str:\n    web_concurrency = int(web_concurrency_str)\nelse:\n"
            "    web_concurrency = max(int(workers_per_core * cores), 2)\n\nworkers = web_concurrency\n")
    [finding] = scan(tmp_path, "gunicorn_conf.py", text, "AD401")
    assert finding.line == 12 and "at least 2 worker processes" in finding.message


START_SCRIPT = """#!/usr/bin/env sh
set -e
# exec uvicorn app:app --workers 16   (old setup)
python manage.py migrate
export WORKERS=${WORKERS:-4}
if [ "$MODE" = "worker" ]; then
    exec celery -A chat worker --pool solo
else
    exec gunicorn -k uvicorn.workers.UvicornWorker --workers $WORKERS chat.app:app
fi
"""


def test_start_script_exported_default_and_branches(tmp_path):
    [finding] = scan(tmp_path, "docker/start.sh", START_SCRIPT, "AD401")
    assert finding.line == 9 and "4 worker processes (default of $WORKERS)" in finding.message
    assert scan(tmp_path, "docker/start.sh", START_SCRIPT, "AD405") == []


def test_start_script_single_process_is_silent(tmp_path):
    text = "#!/bin/sh\nexec uvicorn app:app --host 0.0.0.0 --port \"${PORT:-8000}\"\n"
    assert scan(tmp_path, "docker-entrypoint.sh", text, "AD401") == []


def test_only_start_scripts_are_read():
    for name in ("entrypoint.sh", "docker-entrypoint.sh", "api-entrypoint.sh", "start.sh", "start-worker.sh",
                 "boot.sh", "run-server.sh"):
        assert is_deploy_file(Path(name)), name
    for name in ("run.sh", "test.sh", "install.sh", "bench.sh", "deploy.sh", "prestart.sh"):
        assert not is_deploy_file(Path(name)), name
