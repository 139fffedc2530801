"""S2 and H5: the scanned repository's config never writes or reads outside the project, and
files named for config or baseline are read only when they are small regular files."""

from __future__ import annotations

import os

import pytest

from hostile_support import one_error_line, scan

NEWLINE_NAME = "x\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATTACKERKEY attacker@evil\n.py"


def _config(project, body: str) -> None:
    (project / "pyproject.toml").write_text("[tool.autogen-doctor]\n" + body)


@pytest.mark.parametrize("where", ["../../home/.ssh/authorized_keys", "/tmp/autogen-doctor-outside.txt"],
                         ids=["relative", "absolute"])
def test_config_output_outside_the_project_is_refused_and_nothing_is_written(project, tmp_path, where):
    (project / "app" / NEWLINE_NAME).write_text("SESSIONS = {}\n")
    target = (project / where).resolve() if not where.startswith("/") else tmp_path / "outside.txt"
    where = where if not where.startswith("/") else str(target)
    _config(project, f'output = "{where}"\n')
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    line = one_error_line(completed)
    assert "output must name a file inside the project" in line and "--output" in line
    assert not target.exists()
    assert completed.stdout == ""


def test_config_output_through_a_symlink_out_of_the_project_is_refused(project, tmp_path):
    outside = tmp_path / "victim.txt"
    outside.write_text("untouched\n")
    os.symlink(outside, project / "report.txt")
    _config(project, 'output = "report.txt"\n')
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert "inside the project" in one_error_line(completed)
    assert outside.read_text() == "untouched\n"


def test_config_output_into_git_metadata_is_refused(project):
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    _config(project, 'output = ".git/hooks/pre-commit"\n')
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert "version-control metadata" in one_error_line(completed)
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"


def test_config_output_inside_the_project_still_works(project):
    _config(project, 'output = "reports/scan.txt"\n')
    completed = scan(project, "--no-cache")
    assert completed.returncode == 1, completed.stderr
    assert "app/main.py:11:" in (project / "reports" / "scan.txt").read_text()


def test_command_line_output_may_go_anywhere(project, tmp_path):
    target = tmp_path / "elsewhere" / "scan.txt"
    completed = scan(project, "--no-cache", "--output", str(target))
    assert completed.returncode == 1
    assert "AD101" in target.read_text()


@pytest.mark.parametrize("value", ['"/dev/zero"', '"../outside.json"'], ids=["device", "parent"])
def test_config_baseline_outside_the_project_is_refused(project, value):
    _config(project, f"baseline = {value}\n")
    completed = scan(project, "--no-cache", timeout=30)
    assert completed.returncode == 2
    assert "baseline must name a file inside the project" in one_error_line(completed)


@pytest.mark.parametrize("option", ["--config", "--baseline"])
def test_devices_are_refused_without_reading_them(project, option):
    completed = scan(project, "--no-cache", option, "/dev/zero", timeout=30)
    assert completed.returncode == 2
    assert "not a regular file" in one_error_line(completed)


@pytest.mark.parametrize("option", ["--config", "--baseline"])
def test_a_fifo_is_refused_without_blocking(project, tmp_path, option):
    fifo = tmp_path / "named.pipe"
    os.mkfifo(fifo)
    # If the command opened the FIFO for reading it would block until a writer came; keep a
    # writer-free FIFO and a timeout, so a regression fails instead of hanging the suite.
    completed = scan(project, "--no-cache", option, str(fifo), timeout=30)
    assert completed.returncode == 2
    assert "not a regular file" in one_error_line(completed)


def test_an_oversized_config_is_refused(project, tmp_path):
    big = tmp_path / "big.toml"
    with open(big, "wb") as handle:
        handle.truncate(5 * 1024 * 1024)  # sparse: no time spent writing
    completed = scan(project, "--no-cache", "--config", str(big))
    assert completed.returncode == 2
    assert "over the 4 MB limit" in one_error_line(completed)


def test_a_deeply_nested_pyproject_is_one_line(project):
    (project / "pyproject.toml").write_text("[tool.autogen-doctor]\nselect = " + "[" * 100_000 + "]" * 100_000 + "\n")
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert "nested too deeply" in one_error_line(completed)


@pytest.mark.parametrize("value", ['""', "[]", '["", ","]'], ids=["empty-string", "empty-list", "blanks"])
def test_an_empty_select_in_config_is_the_same_usage_error_as_the_flag(project, value):
    _config(project, f"select = {value}\n")
    completed = scan(project, "--no-cache")
    assert completed.returncode == 2
    assert "select names no rule codes" in one_error_line(completed)
    flag = scan(project, "--no-cache", "--no-config", "--select", "")
    assert flag.returncode == 2
    assert "--select was given no rule codes" in one_error_line(flag)


def test_every_config_key_naming_a_path_is_checked():
    """A new path key must be held inside the project too (or refused): fail loudly if one
    is added without that."""
    from autogen_doctor.scan.config import _KEYS, _project_path

    path_like = {key for key in _KEYS if key in ("output", "baseline", "cache-dir", "write-baseline")
                 or key.endswith(("-dir", "-file", "-path"))}
    for key in path_like:
        validator = _KEYS[key][1]
        assert validator is _project_path or validator.__name__ == "refuse", key


