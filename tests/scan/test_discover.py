import os
from pathlib import Path

import pytest

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.discover import discover
from autogen_doctor.scan.engine import scan_paths

from support.files import write_tree


def names(found, root):
    return sorted(Path(f.path).relative_to(root).as_posix() for f in found)


def test_discover_skips_virtualenvs_caches_and_build_outputs(tmp_path):
    write_tree(tmp_path, {
        "app/main.py": "x = 1\n",
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/mod.py": "x = 1\n",
        ".venv/lib/a.py": "x = 1\n",
        "node_modules/pkg/a.py": "x = 1\n",
        "lib/site-packages/dep.py": "x = 1\n",
        "build/lib/app.py": "x = 1\n",
        "dist/x.py": "x = 1\n",
        "pkg.egg-info/x.py": "x = 1\n",
        "app/__pycache__/main.py": "x = 1\n",
        ".autogen-doctor-cache/x.py": "x = 1\n",
        "README.md": "hi\n",
    })
    assert names(discover([tmp_path]), tmp_path) == ["app/main.py"]


def test_discover_honours_nested_gitignore_and_negation(tmp_path):
    write_tree(tmp_path, {
        ".gitignore": "generated/\n*.tmp.py\n",
        "app/.gitignore": "secret_*.py\n!secret_ok.py\n",
        "app/main.py": "x = 1\n",
        "app/secret_a.py": "x = 1\n",
        "app/secret_ok.py": "x = 1\n",
        "generated/g.py": "x = 1\n",
        "scratch.tmp.py": "x = 1\n",
    })
    (tmp_path / ".git").mkdir()
    assert names(discover([tmp_path]), tmp_path) == ["app/main.py", "app/secret_ok.py"]


def test_discover_uses_gitignore_above_the_path_in_the_repository(tmp_path):
    write_tree(tmp_path, {".gitignore": "src/legacy/\n", "src/legacy/old.py": "x = 1\n", "src/new.py": "x = 1\n"})
    (tmp_path / ".git").mkdir()
    assert names(discover([tmp_path / "src"]), tmp_path) == ["src/new.py"]


def test_explicit_path_inside_an_ignored_folder_is_still_scanned(tmp_path):
    write_tree(tmp_path, {".gitignore": "vendor/\n", "vendor/lib/a.py": "x = 1\n"})
    (tmp_path / ".git").mkdir()
    assert names(discover([tmp_path / "vendor"]), tmp_path) == ["vendor/lib/a.py"]
    assert names(discover([tmp_path / "vendor" / "lib" / "a.py"]), tmp_path) == ["vendor/lib/a.py"]


def test_explicit_file_is_scanned_whatever_its_name(tmp_path):
    write_tree(tmp_path, {"tool": "x = 1\n"})
    found = discover([tmp_path / "tool"])
    assert [f.kind for f in found] == ["python"]


def test_exclude_globs(tmp_path):
    write_tree(tmp_path, {"app/main.py": "x=1\n", "app/tests/test_a.py": "x=1\n", "migrations/0001.py": "x=1\n"})
    assert names(discover([tmp_path], exclude=["tests/", "migrations"]), tmp_path) == ["app/main.py"]


def test_symlinks_are_not_followed_outside_the_path(tmp_path):
    outside = tmp_path / "outside"
    write_tree(outside, {"evil.py": "x = 1\n"})
    project = tmp_path / "project"
    write_tree(project, {"app/main.py": "x = 1\n", "app/inner/b.py": "x = 1\n"})
    os.symlink(outside, project / "link_out")
    os.symlink(outside / "evil.py", project / "evil_link.py")
    os.symlink(project / "app" / "inner", project / "link_in")
    os.symlink(project, project / "app" / "loop")  # a cycle must not hang
    found = names(discover([project]), project)
    assert "link_out/evil.py" not in found and "evil_link.py" not in found
    assert "app/main.py" in found and "app/inner/b.py" in found


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as raised:
        scan_paths([tmp_path / "nope"], use_cache=False)
    assert int(raised.value.exit_code) == 2
    assert "nope" in str(raised.value)


def test_display_paths_are_relative_under_cwd_else_absolute(tmp_path, monkeypatch):
    write_tree(tmp_path, {"a/x.py": "x = 1\n", "b/y.py": "y = 2\n"})
    monkeypatch.chdir(tmp_path / "a")
    found = discover([tmp_path])
    assert sorted(f.display for f in found) == [str(tmp_path / "b" / "y.py"), "x.py"]


def test_a_named_fifo_is_a_usage_error_that_never_blocks(tmp_path):
    fifo = tmp_path / "app.py"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file or folder"):
        discover([fifo])


def test_a_named_file_scan_does_not_read_is_left_out(tmp_path):
    write_tree(tmp_path, {"README.md": "# notes\n", "app.py": "x = 1\n"})
    found = discover([tmp_path / "README.md", tmp_path / "app.py"])
    assert [(Path(f.path).name, f.kind) for f in found] == [("app.py", "python")]


def test_ignored_folders_are_pruned_without_being_listed(tmp_path):
    """A git-ignored or excluded folder is never opened: an unreadable one gives no error."""
    write_tree(tmp_path, {".gitignore": "secret/\n", "app/main.py": "x = 1\n",
                          "secret/a.py": "x = 1\n", "vendor/b.py": "x = 1\n"})
    (tmp_path / ".git").mkdir()
    (tmp_path / "secret").chmod(0)
    (tmp_path / "vendor").chmod(0)
    try:
        problems: list = []
        found = discover([tmp_path], exclude=["vendor/"], problems=problems)
    finally:
        (tmp_path / "secret").chmod(0o755)
        (tmp_path / "vendor").chmod(0o755)
    assert names(found, tmp_path) == ["app/main.py"]
    assert problems == []


def test_only_files_scan_reads_are_matched_against_gitignore(tmp_path):
    write_tree(tmp_path, {".gitignore": "*.py\n!keep.py\n", "keep.py": "x = 1\n", "drop.py": "x = 1\n",
                          "notes.txt": "hi\n", "deploy/k8s.yaml": "kind: Service\n"})
    (tmp_path / ".git").mkdir()
    assert names(discover([tmp_path]), tmp_path) == ["deploy/k8s.yaml", "keep.py"]
