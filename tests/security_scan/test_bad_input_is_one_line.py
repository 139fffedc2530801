"""D3, D5, C2-C6, U3, U4: odd trees and odd files give one clear line, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hostile_support import STATEFUL_APP, one_error_line, scan, without_file_permission_override


def _report(completed) -> dict:
    return json.loads(completed.stdout)


def test_an_unreadable_folder_is_reported_in_errors(project):
    prefix = without_file_permission_override()
    locked = project / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text(STATEFUL_APP)
    locked.chmod(0)
    try:
        completed = scan(project, "--no-cache", "--format", "json", prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert completed.returncode == 1, completed.stderr
    report = _report(completed)
    assert [error["path"] for error in report["errors"]] == ["locked"]
    assert "cannot read folder: permission denied" in report["errors"][0]["message"]
    assert [finding["path"] for finding in report["findings"]] == ["app/main.py"]


def test_a_named_unreadable_file_is_one_error_line(project):
    prefix = without_file_permission_override()
    target = project / "app" / "main.py"
    target.chmod(0)
    try:
        completed = scan(project, "--no-cache", "app/main.py", prefix=prefix)
    finally:
        target.chmod(0o644)
    assert completed.returncode == 2
    assert one_error_line(completed) == "autogen-doctor: error: app/main.py: cannot read file: permission denied"


def test_a_file_reached_through_a_symlink_is_reported_once(project):
    os.symlink(project / "app" / "main.py", project / "dup.py")
    os.symlink(project / "app", project / "again")
    completed = scan(project, "--no-cache", "--format", "json")
    assert completed.returncode == 1
    assert [(f["code"], f["path"]) for f in _report(completed)["findings"]] == [("AD101", "app/main.py")]
    assert _report(completed)["summary"]["files_scanned"] == 1


def _baseline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, expected", [
    ('{"tool": "autogen-doctor", "version": 1, "findings": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested too deeply"),
    ('{"tool": "autogen-doctor", "version": 1, "findings": [{"fingerprint": "f", "code": "AD101", '
     '"path": "app/main.py", "count": 1e999}]}', "count must be a whole number"),
    ('{"tool": "autogen-doctor", "version": 1, "findings": [{"fingerprint": "f", "code": "AD101", '
     '"path": "app/main.py", "count": Infinity}]}', "not valid JSON"),
    ('{"tool": "autogen-doctor", "version": 1, "findings": [{"fingerprint": "f", "code": "AD101", '
     '"path": "app/main.py", "count": -3}]}', "count must be a whole number"),
], ids=["deep", "1e999", "Infinity", "negative"])
def test_hostile_baselines_are_one_error_line(project, tmp_path, text, expected):
    completed = scan(project, "--no-cache", "--baseline", str(_baseline(tmp_path, text)))
    assert completed.returncode == 2
    assert expected in one_error_line(completed)


@pytest.mark.parametrize("args", [("--exclude", "\\"), ("--per-file-ignores", "\\:AD1")], ids=["exclude", "pfi"])
def test_bad_patterns_on_the_command_line_are_usage_errors(project, args):
    completed = scan(project, "--no-cache", *args)
    assert completed.returncode == 2
    assert "is not a valid gitignore-style pattern" in one_error_line(completed)


@pytest.mark.parametrize("body", ['exclude = ["\\\\"]\n', 'per-file-ignores = { "\\\\" = ["AD1"] }\n'],
                         ids=["exclude", "pfi"])
def test_bad_patterns_in_config_are_usage_errors(project, body):
    (project / "pyproject.toml").write_text("[tool.autogen-doctor]\n" + body)
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert "is not a valid gitignore-style pattern" in one_error_line(completed)


@pytest.mark.parametrize("codec", ["punycode", "undefined"])
def test_odd_codecs_are_a_one_line_error_for_that_file(project, codec):
    (project / "app" / "odd.py").write_text(f"# coding: {codec}\nx = 1\n")
    completed = scan(project, "--no-cache", "--format", "json")
    assert completed.returncode == 1
    errors = _report(completed)["errors"]
    assert [error["path"] for error in errors] == ["app/odd.py"]
    assert errors[0]["message"].startswith(f"not valid {codec} text")
    assert "\n" not in errors[0]["message"] and "internal error" not in errors[0]["message"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a /proc filesystem")
def test_scanning_proc_never_crashes(tmp_path):
    completed = scan(tmp_path, "/proc", "--no-cache", "--quiet", timeout=300)
    assert completed.returncode in (0, 1, 2)
    assert "Traceback" not in completed.stderr and "internal error" not in completed.stderr


@pytest.mark.parametrize("kind", ["file", "devnull", "proc"])
def test_an_unusable_cache_dir_is_one_error_line(project, kind):
    folder = {"file": str(project / "app" / "main.py"), "devnull": os.devnull, "proc": "/proc/self"}[kind]
    if kind == "proc" and not os.path.isdir("/proc/self"):
        pytest.skip("needs a /proc filesystem")
    completed = scan(project, "--cache-dir", folder)
    assert completed.returncode == 2
    assert "--cache-dir" in one_error_line(completed)


def test_a_missing_cache_dir_is_created(project, tmp_path):
    folder = tmp_path / "new" / "cache"
    completed = scan(project, "--cache-dir", str(folder))
    assert completed.returncode == 1
    assert folder.is_dir() and any(folder.iterdir())


def test_no_cache_ignores_the_cache_dir_check(project):
    assert scan(project, "--no-cache", "--cache-dir", os.devnull).returncode == 1
