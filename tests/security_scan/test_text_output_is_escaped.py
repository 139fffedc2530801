"""S3a/S3c: names and values from the scanned tree cannot add lines, workflow commands or
terminal escapes to what scan prints."""

from __future__ import annotations

import json

import pytest

from hostile_support import STATEFUL_APP, scan

INJECTED = "\n::error file=x.py,line=1::INJECTED\x1b]0;PWNED\x07\x1b[2J\u202e"

# A Deployment with several replicas makes the AD1 finding name it (escalation reason).
K8S = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "chat\\n::error file=x.py,line=1::INJECTED FROM YAML\\e]0;PWNED\\a\\e[2J"
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: chat:1
"""


def _assert_clean(text: str) -> None:
    for line in text.splitlines():
        assert not line.startswith("::error file=x.py"), line
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


@pytest.fixture
def hostile_project(tmp_path):
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / f"evil{INJECTED}.py").write_text(STATEFUL_APP)
    (root / "app" / f"broken{INJECTED}.py").write_text("def (:\n")
    (root / "deploy").mkdir()
    (root / "deploy" / "k8s.yaml").write_text(K8S)
    return root


@pytest.mark.parametrize("output_format", ["text", "github"])
def test_file_names_and_yaml_values_stay_on_their_line(hostile_project, output_format):
    completed = scan(hostile_project, "--no-cache", "--format", output_format)
    assert completed.returncode == 1, completed.stderr
    _assert_clean(completed.stdout)
    _assert_clean(completed.stderr)
    # what was there is still shown, escaped
    assert "\\n::error file=x.py,line=1::INJECTED" in completed.stdout
    assert "\\x1b]0;PWNED" in completed.stdout
    assert "INJECTED FROM YAML" in completed.stdout, "the YAML name must reach the report (escaped)"


def test_text_report_has_one_line_per_finding_and_error(hostile_project):
    completed = scan(hostile_project, "--no-cache", "--format", "json")
    report = json.loads(completed.stdout)
    text = scan(hostile_project, "--no-cache", "--format", "text", "--quiet").stdout
    hints = sum(1 for finding in report["findings"] if finding["fix"])
    trace_steps = sum(len(finding.get("trace", [])) for finding in report["findings"])
    assert len(text.splitlines()) == len(report["findings"]) + hints + trace_steps + len(report["errors"])


def test_error_lines_escape_names_from_the_checkout(tmp_path):
    # The folder name is part of every config error; a checkout path is outside text too.
    project = tmp_path / "p\x1b[2J\nverdict: PASS"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.autogen-doctor]\nformat = "nope"\n')
    (project / "a.py").write_text("x = 1\n")
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1
    _assert_clean(completed.stderr)
    assert "\\x1b[2J\\nverdict: PASS" in completed.stderr
