"""AD404 / AD351 and service commands from Docker Compose files written to disk."""

from pathlib import Path

from autogen_doctor.scan.deploy import parse_deploy_file
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.registry import load_rules


def scan(tmp_path: Path, text: str, code: str, name: str = "docker-compose.yml"):
    path = tmp_path / name
    path.write_text(text)
    deploy = parse_deploy_file(path, name, path.read_text())
    assert deploy.kind == "compose"
    return list(load_rules()[code].check(Project(roots=[tmp_path], deploy_files=[deploy])))


def test_v3_deploy_replicas_fire_at_the_value(tmp_path):
    text = 'version: "3.8"\nservices:\n  chat:\n    build: .\n    deploy:\n      replicas: 3\n'
    [finding] = scan(tmp_path, text, "AD404")
    assert (finding.line, finding.symbol) == (6, "chat") and "3 containers" in finding.message
    assert text.splitlines()[5][finding.column - 1:] == "3"


def test_v2_scale_fires(tmp_path):
    text = "version: '2.4'\nservices:\n  chat:\n    image: chat\n    scale: 2\n"
    [finding] = scan(tmp_path, text, "AD404")
    assert finding.line == 5


def test_interpolated_replicas_use_their_default_and_unknown_is_silent(tmp_path):
    [finding] = scan(tmp_path, "services:\n  chat:\n    image: c\n    deploy:\n      replicas: ${N:-4}\n", "AD404")
    assert "default of $N" in finding.message
    assert scan(tmp_path, "services:\n  chat:\n    image: c\n    deploy:\n      replicas: ${N}\n", "AD404") == []


def test_one_replica_and_global_mode_are_silent(tmp_path):
    assert scan(tmp_path, "services:\n  chat:\n    image: c\n    deploy:\n      replicas: 1\n", "AD404") == []
    assert scan(tmp_path, "services:\n  chat:\n    image: c\n    deploy:\n      mode: global\n      replicas: 3\n",
                "AD404") == []


def test_string_command_fires_ad401(tmp_path):
    text = "services:\n  web:\n    build: .\n    command: gunicorn --workers 4 chat.app:app\n"
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 4 and finding.symbol == "web" and "compose service 'web'" in finding.message


def test_list_command_with_entrypoint_fires(tmp_path):
    text = ('services:\n  web:\n    image: x\n    entrypoint: ["python", "-m"]\n'
            '    command: ["uvicorn", "app:app", "--workers", "2"]\n')
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 5


def test_environment_mapping_and_list_forms_of_web_concurrency(tmp_path):
    mapping = "services:\n  web:\n    image: x\n    environment:\n      WEB_CONCURRENCY: 3\n"
    [finding] = scan(tmp_path, mapping, "AD401")
    assert finding.line == 5
    listed = "services:\n  web:\n    image: x\n    environment:\n      - LOG=1\n      - WEB_CONCURRENCY=2\n"
    [finding] = scan(tmp_path, listed, "AD401")
    assert finding.line == 6
    assert scan(tmp_path, mapping.replace("3", "1"), "AD401") == []


def test_command_variable_from_service_environment(tmp_path):
    text = ("services:\n  worker:\n    image: x\n    environment:\n      CONCURRENCY: '6'\n"
            "    command: celery -A chat worker -c $CONCURRENCY\n")
    [finding] = scan(tmp_path, text, "AD405")
    assert "6 processes" in finding.message and finding.line == 6


def test_anchors_and_merge_keys(tmp_path):
    text = ("x-common: &common\n  image: chat\n  deploy:\n    replicas: 2\nservices:\n"
            "  a:\n    <<: *common\n  b:\n    <<: *common\n    deploy:\n      replicas: 1\n")
    findings = scan(tmp_path, text, "AD404")
    assert [finding.symbol for finding in findings] == ["a"]


def test_reload_dev_service_is_silent(tmp_path):
    text = "services:\n  dev:\n    build: .\n    command: uvicorn app:app --reload --workers 2\n"
    assert scan(tmp_path, text, "AD401") == []


def test_tmpfs_at_app_path_fires_and_tmp_is_silent(tmp_path):
    text = ("services:\n  chat:\n    image: c\n    tmpfs:\n      - /tmp\n      - /app/history:size=64m\n"
            "    volumes:\n      - type: tmpfs\n        target: /var/lib/chat\n      - type: tmpfs\n        target: /run\n")
    findings = scan(tmp_path, text, "AD351")
    assert [finding.line for finding in findings] == [6, 8]
    assert findings[0].severity.value == "warning" and "/app/history" in findings[0].message
    assert scan(tmp_path, "services:\n  chat:\n    image: c\n    tmpfs: /tmp\n", "AD351") == []


def test_named_volume_is_silent(tmp_path):
    text = "services:\n  chat:\n    image: c\n    volumes:\n      - history:/app/history\nvolumes:\n  history: {}\n"
    assert scan(tmp_path, text, "AD351") == []


def test_replicated_store_image_is_silent_but_built_service_counts(tmp_path):
    text = ("services:\n  redis:\n    image: bitnami/redis:7\n    deploy:\n      replicas: 3\n"
            "  chat:\n    image: nginx\n    build: .\n    scale: 2\n")
    assert [finding.symbol for finding in scan(tmp_path, text, "AD404")] == ["chat"]
