"""AD401 / AD405 from Dockerfiles: real files on disk, parsed and checked by the registered rules."""

from pathlib import Path

from autogen_doctor.scan.deploy import is_deploy_file, parse_deploy_file
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.registry import load_rules


def scan(tmp_path: Path, text: str, code: str, name: str = "Dockerfile"):
    path = tmp_path / name
    path.write_text(text)
    assert is_deploy_file(path)
    deploy = parse_deploy_file(path, name, path.read_text())
    return list(load_rules()[code].check(Project(roots=[tmp_path], deploy_files=[deploy])))


def test_exec_form_uvicorn_workers_fires_at_the_flag(tmp_path):
    text = 'FROM python:3.11-slim\nCOPY . /app\nCMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--workers", "4"]\n'
    [finding] = scan(tmp_path, text, "AD401")
    assert (finding.path, finding.line) == ("Dockerfile", 3)
    assert text.splitlines()[2][finding.column - 1:].startswith('--workers"')
    assert "4 worker processes" in finding.message and "uvicorn" in finding.message
    assert finding.symbol == "uvicorn"
    assert finding.severity.value == "info"
    assert finding.context.startswith("CMD [")
    assert "load_state" in finding.fix


def test_shell_form_gunicorn_short_flag_fires(tmp_path):
    [finding] = scan(tmp_path, "FROM python:3.11\nCMD gunicorn -w 3 -k uvicorn.workers.UvicornWorker app:app\n", "AD401")
    assert finding.line == 2 and "3 worker processes" in finding.message and "gunicorn -w 3" in finding.message


def test_gunicorn_attached_and_equals_forms_fire(tmp_path):
    assert scan(tmp_path, "FROM python\nCMD gunicorn -w4 app:app\n", "AD401")
    assert scan(tmp_path, "FROM python\nCMD gunicorn --workers=6 app:app\n", "AD401")


def test_one_worker_is_silent(tmp_path):
    assert scan(tmp_path, 'FROM python\nCMD ["uvicorn", "app:app", "--workers", "1"]\n', "AD401") == []
    assert scan(tmp_path, "FROM python\nCMD gunicorn -w 1 app:app\n", "AD401") == []


def test_no_workers_flag_is_silent(tmp_path):
    assert scan(tmp_path, 'FROM python\nCMD ["uvicorn", "app:app", "--port", "8000"]\n', "AD401") == []


def test_commented_out_instruction_is_silent(tmp_path):
    text = 'FROM python\n# CMD ["uvicorn", "app:app", "--workers", "4"]\nCMD ["uvicorn", "app:app"]\n'
    assert scan(tmp_path, text, "AD401") == []


def test_reload_dev_server_is_silent(tmp_path):
    assert scan(tmp_path, "FROM python\nCMD uvicorn app:app --reload --workers 4\n", "AD401") == []


def test_run_instruction_is_build_time_and_silent(tmp_path):
    text = "FROM python\nRUN pip install uvicorn && uvicorn --version --workers 4\nCMD python main.py\n"
    assert scan(tmp_path, text, "AD401") == []


def test_unknown_variable_is_silent_but_env_value_and_default_resolve(tmp_path):
    assert scan(tmp_path, "FROM python\nCMD uvicorn app:app --workers $WORKERS\n", "AD401") == []
    [from_env] = scan(tmp_path, "FROM python\nARG N=5\nENV WORKERS=$N\nCMD uvicorn app:app --workers $WORKERS\n",
                      "AD401")
    assert "5 worker processes (from $WORKERS)" in from_env.message and from_env.line == 4
    [default] = scan(tmp_path, "FROM python\nCMD uvicorn app:app --workers ${WORKERS:-3}\n", "AD401")
    assert "default of $WORKERS" in default.message
    assert scan(tmp_path, "FROM python\nENV WORKERS=1\nCMD uvicorn app:app --workers $WORKERS\n", "AD401") == []


def test_cpu_count_arithmetic_counts_as_several(tmp_path):
    [finding] = scan(tmp_path, "FROM python\nCMD gunicorn --workers=$(( $(nproc) * 2 + 1 )) app:app\n", "AD401")
    assert "per CPU" in finding.message


def test_web_concurrency_env_fires_at_the_env_line_when_the_server_reads_it(tmp_path):
    text = 'FROM python\nENV PYTHONUNBUFFERED=1 \\\n    WEB_CONCURRENCY=4\nCMD ["gunicorn", "app:app"]\n'
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 3 and "WEB_CONCURRENCY=4" in finding.message


def test_web_concurrency_is_ignored_when_the_command_sets_workers(tmp_path):
    text = 'FROM python\nENV WEB_CONCURRENCY=4\nCMD ["gunicorn", "-w", "1", "app:app"]\n'
    assert scan(tmp_path, text, "AD401") == []


def test_web_concurrency_one_is_silent(tmp_path):
    assert scan(tmp_path, 'FROM python\nENV WEB_CONCURRENCY=1\nCMD ["gunicorn", "app:app"]\n', "AD401") == []


def test_continued_lines_with_comments_point_at_the_right_line(tmp_path):
    text = "FROM python\nCMD uvicorn app:app \\\n    --host 0.0.0.0 \\\n# a comment inside\n    --workers 3\n"
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 5


def test_sh_c_wrapper_and_exec_are_followed(tmp_path):
    text = 'FROM python\nCMD ["sh", "-c", "python manage.py migrate && exec gunicorn -w 4 app:app"]\n'
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 2 and "gunicorn -w 4" in finding.message


def test_python_dash_m_and_wrappers_are_followed(tmp_path):
    assert scan(tmp_path, 'FROM python\nCMD ["python", "-m", "uvicorn", "app:app", "--workers", "2"]\n', "AD401")
    assert scan(tmp_path, 'FROM python\nENTRYPOINT ["tini", "--"]\nCMD ["poetry", "run", "hypercorn", "-w", "2", "app:app"]\n',
                "AD401")


def test_entrypoint_script_plus_cmd_is_combined(tmp_path):
    text = 'FROM python\nENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["gunicorn", "--workers", "5", "app:app"]\n'
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 3 and "Dockerfile CMD" in finding.message


def test_only_the_final_stage_counts(tmp_path):
    text = ('FROM python AS dev\nCMD ["uvicorn", "app:app", "--workers", "4"]\n'
            'FROM python\nCMD ["uvicorn", "app:app"]\n')
    assert scan(tmp_path, text, "AD401") == []
    inherited = ('FROM python AS base\nCMD ["uvicorn", "app:app", "--workers", "4"]\n'
                 'FROM base AS final\nRUN true\n')
    [finding] = scan(tmp_path, inherited, "AD401")
    assert finding.line == 2


def test_heredoc_body_is_not_read_as_instructions(tmp_path):
    text = "FROM python\nRUN <<EOF\nCMD uvicorn app:app --workers 9\nEOF\nCMD python main.py\n"
    assert scan(tmp_path, text, "AD401") == []


def test_celery_worker_default_pool_fires_and_solo_is_silent(tmp_path):
    [finding] = scan(tmp_path, 'FROM python\nCMD ["celery", "-A", "proj", "worker", "-l", "info"]\n', "AD405")
    assert "one process per CPU" in finding.message and finding.symbol == "celery"
    assert scan(tmp_path, "FROM python\nCMD celery -A proj worker --pool=solo\n", "AD405") == []
    assert scan(tmp_path, "FROM python\nCMD celery -A proj worker -P gevent -c 100\n", "AD405") == []
    assert scan(tmp_path, "FROM python\nCMD celery -A proj worker -c 1\n", "AD405") == []
    assert scan(tmp_path, "FROM python\nCMD celery -A proj beat\n", "AD405") == []


def test_celery_concurrency_and_autoscale_fire(tmp_path):
    [concurrency] = scan(tmp_path, "FROM python\nCMD celery -A proj worker --concurrency=4\n", "AD405")
    assert "4 processes" in concurrency.message
    [autoscale] = scan(tmp_path, "FROM python\nCMD celery -A proj worker --autoscale=10,3\n", "AD405")
    assert "up to 10 processes" in autoscale.message


def test_escape_directive_backtick_continuations(tmp_path):
    text = "# escape=`\nFROM python\nCMD uvicorn app:app `\n    --workers 2\n"
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 4


def test_dockerfile_variants_are_recognised_and_lookalikes_are_not():
    for name in ("Dockerfile", "dockerfile", "Dockerfile.prod", "Dockerfile-api", "api.Dockerfile", "Containerfile"):
        assert is_deploy_file(Path(name)), name
    for name in ("Dockerfile.md", "dockerfile_utils.py", "Dockerfiles.txt", "README.md", "main.py"):
        assert not is_deploy_file(Path(name)), name


def test_web_concurrency_set_by_the_shell_line_itself_counts(tmp_path):
    [exported] = scan(tmp_path, "FROM python\nCMD export WEB_CONCURRENCY=4; exec gunicorn app:app\n", "AD401")
    assert exported.line == 2 and "WEB_CONCURRENCY=4" in exported.message
    [inline] = scan(tmp_path, 'FROM python\nCMD ["sh", "-c", "WEB_CONCURRENCY=3 uvicorn app:app"]\n', "AD401")
    assert "3 worker processes" in inline.message
    assert scan(tmp_path, "FROM python\nCMD export WEB_CONCURRENCY=4; exec gunicorn -w 1 app:app\n", "AD401") == []


def test_wrapper_options_with_values_are_skipped(tmp_path):
    text = "FROM python\nCMD opentelemetry-instrument --service_name chat uvicorn app:app --workers 3\n"
    [finding] = scan(tmp_path, text, "AD401")
    assert "uvicorn --workers 3" in finding.message


def test_installing_or_mentioning_a_server_is_not_running_it(tmp_path):
    text = 'FROM python\nCMD ["sh", "-c", "pip install gunicorn && echo gunicorn -w 4 && python app.py"]\n'
    assert scan(tmp_path, text, "AD401") == []


def test_gunicorn_cmd_args_env_fires_at_the_env_line(tmp_path):
    text = 'FROM python\nENV GUNICORN_CMD_ARGS="--bind=0.0.0.0:80 --workers=3"\nCMD ["gunicorn", "app:app"]\n'
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 2 and "3 worker processes" in finding.message
    explicit = 'FROM python\nENV GUNICORN_CMD_ARGS="--workers=3"\nCMD ["gunicorn", "-w", "1", "app:app"]\n'
    assert scan(tmp_path, explicit, "AD401") == []
