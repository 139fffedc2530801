"""Command-line forms, each written as a Procfile on disk and read back through the parser."""

from pathlib import Path

import pytest

from autogen_doctor.scan.deploy import parse_deploy_file

SEVERAL = [
    ("fastapi run --workers 4 app/main.py", "fastapi run --workers 4"),
    ("granian --interface asgi --workers 2 app:app", "granian --workers 2"),
    ("uwsgi --http :8000 --module app:app --processes 4", "uwsgi --processes 4"),
    ("hypercorn app:app -w 3", "hypercorn -w 3"),
    ("python -u -m gunicorn -w 2 app:app", "gunicorn -w 2"),
    ("poetry run uvicorn app:app --workers=2", "uvicorn --workers=2"),
    ("uv run --with redis uvicorn app:app --workers 2", "uvicorn --workers 2"),
    ("gosu app gunicorn -w 2 app", "gunicorn -w 2"),
    ("/usr/local/bin/gunicorn --workers 5 app", "gunicorn --workers 5"),
    ("newrelic-admin run-program gunicorn -w 3 app", "gunicorn -w 3"),
    ("env PYTHONUNBUFFERED=1 WEB_CONCURRENCY=3 gunicorn app:app", "gunicorn (WEB_CONCURRENCY=3)"),
    ("bash -lc 'cd /app && exec uvicorn app:app --workers 2'", "uvicorn --workers 2"),
    ("celery --app=proj worker -P prefork -c 2", "celery worker -c 2"),
    ("gunicorn -w 1 -w 4 app", "gunicorn -w 4"),
]

SINGLE = [
    "fastapi dev app/main.py",
    "uwsgi --ini uwsgi.ini -w app:app",
    "daphne -b 0.0.0.0 app.asgi:application",
    "uv run python app.py",
    "celery -A worker beat",
    "celery -A proj worker --pool threads --concurrency 8",
    "gunicorn -w 4 -w 1 app",
    "echo uvicorn --workers 4",
    "pip install 'gunicorn>=22' && python app.py",
    "uvicorn app:app --workers",
    "gunicorn --workers=${UNSET_VARIABLE} app",
]


def facts_for(tmp_path: Path, command: str):
    path = tmp_path / "Procfile"
    path.write_text(f"web: {command}\n")
    return parse_deploy_file(path, "Procfile", path.read_text()).scaling


@pytest.mark.parametrize("command,evidence", SEVERAL)
def test_command_runs_several_processes(tmp_path, command, evidence):
    [fact] = facts_for(tmp_path, command)
    assert fact.evidence == evidence and fact.position.line == 1


@pytest.mark.parametrize("command", SINGLE)
def test_command_runs_one_process_or_cannot_tell(tmp_path, command):
    assert facts_for(tmp_path, command) == []
