"""AD407 (and AD401 from `entrypoint:`) from Google App Engine app.yaml files written to disk."""

from pathlib import Path

from autogen_doctor.scan.deploy import parse_deploy_file
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.registry import load_rules


def scan(tmp_path: Path, text: str, code: str):
    path = tmp_path / "app.yaml"
    path.write_text(text)
    deploy = parse_deploy_file(path, "app.yaml", path.read_text())
    return list(load_rules()[code].check(Project(roots=[tmp_path], deploy_files=[deploy])))


def test_default_automatic_scaling_fires_at_the_runtime(tmp_path):
    [finding] = scan(tmp_path, "runtime: python312\nhandlers:\n- url: /.*\n  script: auto\n", "AD407")
    assert finding.line == 1 and "load-dependent number of instances" in finding.message
    assert finding.symbol == "default"


def test_instance_ceilings_above_one_fire_at_the_value(tmp_path):
    [manual] = scan(tmp_path, "runtime: python312\nservice: chat\nmanual_scaling:\n  instances: 3\n", "AD407")
    assert (manual.line, manual.symbol) == (4, "chat") and "3 instances" in manual.message
    [automatic] = scan(tmp_path, "runtime: python312\nautomatic_scaling:\n  max_instances: 8\n", "AD407")
    assert automatic.line == 3 and "up to 8 instances" in automatic.message


def test_a_ceiling_of_one_is_silent(tmp_path):
    assert scan(tmp_path, "runtime: python312\nautomatic_scaling:\n  max_instances: 1\n", "AD407") == []
    assert scan(tmp_path, "runtime: python312\nmanual_scaling:\n  instances: 1\n", "AD407") == []
    assert scan(tmp_path, "runtime: python312\nbasic_scaling:\n  max_instances: 1\n", "AD407") == []


def test_entrypoint_workers_fire_ad401(tmp_path):
    text = "runtime: python312\nentrypoint: gunicorn -b :$PORT -w 4 main:app\nmanual_scaling:\n  instances: 1\n"
    [finding] = scan(tmp_path, text, "AD401")
    assert finding.line == 2 and "gunicorn -w 4" in finding.message


def test_yaml_with_a_runtime_key_but_nothing_of_app_engine_is_other(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("runtime: 30s\nretries: 3\n")
    assert parse_deploy_file(path, "config.yaml", path.read_text()).kind == "other"
