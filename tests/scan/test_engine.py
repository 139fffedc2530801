"""The scan engine: bad input, parallelism, cache, suppressions, AD4 escalation, big real trees."""

import os
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from autogen_doctor.scan.engine import _default_jobs, scan_paths, worker_count
from autogen_doctor.scan.parse import MAX_FILE_BYTES

from support.files import write_tree

SERVICE = {
    "svc/__init__.py": "",
    "svc/state.py": "sessions = {}\n",
    "svc/store.py": "from .state import sessions\n\ndef remember(sid, m):\n    sessions.setdefault(sid, []).append(m)\n",
    "svc/main.py": (
        "from fastapi import FastAPI\nfrom .store import remember\napp = FastAPI()\n\n"
        "@app.post('/chat')\ndef chat(sid: str, m: str):\n    remember(sid, m)  # autogen-doctor: ignore[AD101]\n"
    ),
}


def errors_by_name(result):
    return {Path(error.path).name: error.message for error in result.errors}


def test_bad_input_becomes_errors_not_tracebacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {
        "syntax.py": "def broken(:\n    pass\n",
        "py2.py": 'print "hello"\n',
        "empty.py": "",
        "ok.py": "x = 1\n",
    })
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9t\xe9'\n")
    (tmp_path / "binary.py").write_bytes(b"\x7fELF\x00\x00\x01binary")
    (tmp_path / "huge.py").write_bytes(b"x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    (tmp_path / "nested.py").write_text("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    (tmp_path / "deep.py").write_text("x = " + "-" * 200_000 + "1\n")
    (tmp_path / "chain.py").write_text("x = 1" + " + 1" * 100_000 + "\n")
    (tmp_path / "lists.py").write_text("x = " + "[" * 150 + "]" * 150 + "\n")  # deep but fine
    started = time.monotonic()
    result = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert time.monotonic() - started < 60
    errors = errors_by_name(result)
    assert "syntax error" in errors["syntax.py"] and "line 1" in errors["syntax.py"]
    assert "Python 2" in errors["py2.py"]
    assert "utf-8" in errors["latin.py"].lower()
    assert "binary" in errors["binary.py"]
    assert "MB" in errors["huge.py"] and "limit" in errors["huge.py"]
    assert "too many nested parentheses" in errors["nested.py"]
    assert errors["deep.py"] == "expression nesting too deep to parse"
    assert errors["chain.py"] == "expression nesting too deep to parse"
    assert "empty.py" not in errors and "ok.py" not in errors and "lists.py" not in errors
    assert result.files_scanned == len(list(tmp_path.glob("*.py"))) - len(result.errors)


def test_unreadable_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"ok.py": "x = 1\n", "locked.py": "x = 1\n"})
    locked = tmp_path / "locked.py"
    locked.chmod(0)
    try:
        if not os.access(locked, os.R_OK):
            result = scan_paths([tmp_path], use_cache=False, jobs=1)
            assert "permission denied" in errors_by_name(result)["locked.py"]
            return
    finally:
        locked.chmod(0o644)
    # Running as root, which reads any file whatever its mode: simulate an unreadable file with
    # one that disappears between discovery and reading (open() fails the same way).
    from autogen_doctor.scan.discover import discover
    from autogen_doctor.scan.engine import analyze_files

    files = discover([tmp_path])
    locked.unlink()
    outcomes = analyze_files(files, jobs=1, cache=None)
    messages = {source.path.name: outcome.error for source, outcome in zip(files, outcomes)}
    assert messages["ok.py"] is None
    assert messages["locked.py"].startswith("cannot read file")


def test_fifo_and_special_files_are_not_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"ok.py": "x = 1\n"})
    os.mkfifo(tmp_path / "pipe.py")  # reading it would block forever
    result = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert result.files_scanned == 1 and result.errors == []


def test_jobs_1_and_jobs_2_give_identical_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = dict(SERVICE)
    for index in range(40):  # enough files for the process pool to be used
        files[f"svc/extra_{index}.py"] = (
            f"from fastapi import APIRouter\nrouter = APIRouter()\nstore_{index} = []\n\n"
            f"@router.get('/x{index}')\ndef handler():\n    store_{index}.append(1)\n")
    files["bad.py"] = "def (:\n"
    write_tree(tmp_path, files)
    one = scan_paths([tmp_path], jobs=1, use_cache=False)
    two = scan_paths([tmp_path], jobs=2, use_cache=False)
    assert [f.to_json() for f in one.findings] == [f.to_json() for f in two.findings]
    assert one.errors == two.errors and one.files_scanned == two.files_scanned
    assert len(one.findings) >= 41


def test_jobs_3_uses_helpers_and_matches_one_process(tmp_path, monkeypatch):
    """The parent and two helper processes share the files; every file is analysed exactly once
    and the findings are those of a one-process scan, whatever the mix of sizes."""
    monkeypatch.chdir(tmp_path)
    files = dict(SERVICE)
    for index in range(60):
        padding = "".join(f"def pad_{index}_{n}(x):\n    return [x] * {n}\n" for n in range(index * 3))
        files[f"svc/mod_{index}.py"] = (
            f"from fastapi import APIRouter\nrouter = APIRouter()\nstore_{index} = {{}}\n\n"
            f"@router.post('/m{index}')\ndef handler(sid: str):\n    store_{index}[sid] = 1\n" + padding)
    write_tree(tmp_path, files)
    one = scan_paths([tmp_path], jobs=1, use_cache=False)
    three = scan_paths([tmp_path], jobs=3, cache_dir=tmp_path / "cache")
    assert [f.to_json() for f in one.findings] == [f.to_json() for f in three.findings]
    assert one.files_scanned == three.files_scanned == len(files) and not three.errors
    assert {f.path for f in three.findings if f.code == "AD101"} >= {f"svc/mod_{index}.py" for index in range(60)}


def test_a_helper_that_dies_costs_only_the_file_it_was_on(tmp_path, monkeypatch):
    """A helper process killed mid-scan (here it exits on its first file: a stand-in for a file
    that crashes the interpreter, which no real file does reliably) loses that file only, as an
    error; the files it had finished are analysed again in the parent. Never a hang."""
    import autogen_doctor.scan.engine as engine

    monkeypatch.chdir(tmp_path)
    files = {f"mod_{index}.py": f"import os\nvalue_{index} = os.getenv('X{index}')\n" for index in range(40)}
    write_tree(tmp_path, files)
    parent = os.getpid()
    real_analyze = engine._analyze

    def analyze(job):
        if os.getpid() != parent:
            os._exit(3)
        time.sleep(0.005)  # the parent is slow enough that each helper claims a file
        return real_analyze(job)

    monkeypatch.setattr(engine, "_analyze", analyze)
    # The stand-in crash lives in this process's patched `_analyze`: only forked helpers carry it
    # (an earlier test may have left a thread running, which would make the scan spawn them).
    monkeypatch.setattr(engine, "_start_method", lambda: "fork")
    result = scan_paths([tmp_path], jobs=3, use_cache=False)
    lost = {Path(error.path).name: error.message for error in result.errors}
    assert 1 <= len(lost) <= 2  # one file per helper, at most
    assert all("stopped (exit code 3)" in message for message in lost.values())
    assert result.files_scanned == len(files) - len(lost)


def test_worker_count_is_capped_by_files_and_cores():
    cores = _default_jobs()
    assert worker_count(10_000, 100_000) == 4 * cores  # --jobs 10000 does not fork 10000 processes
    assert worker_count(10_000, 3) == min(3, 4 * cores)  # never more workers than files
    assert worker_count(1, 500) == 1
    assert worker_count(None, 500) == min(cores, 500)
    assert worker_count(None, 0) == 1


def test_suppressions_are_returned_per_display_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, SERVICE)
    result = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert list(result.suppressions) == ["svc/main.py"]
    assert result.suppressions["svc/main.py"][0].line == 7
    assert "AD101" in result.suppressions["svc/main.py"][0].codes
    # the engine reports every finding; filtering is the CLI's job
    assert [(f.code, f.path) for f in result.findings] == [("AD101", "svc/store.py")]


def test_cache_invalidates_on_change_and_cross_module_findings_follow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "p"
    cache = tmp_path / "cache"
    write_tree(project, SERVICE)
    first = scan_paths([project], cache_dir=cache, jobs=1)
    assert [f.symbol for f in first.findings] == ["sessions"]
    assert len(list(cache.rglob("pack-*.jsonl"))) == 1
    warm = scan_paths([project], cache_dir=cache, jobs=1)
    assert [f.to_json() for f in warm.findings] == [f.to_json() for f in first.findings]
    # the imported module changes: `sessions` is no longer a container -> finding disappears
    (project / "svc/state.py").write_text("sessions = None  # moved to redis\n")
    after = scan_paths([project], cache_dir=cache, jobs=1)
    assert after.findings == []
    # the file itself changes, same size, same mtime second: content hash still sees it
    store = project / "svc/store.py"
    stat = store.stat()
    (project / "svc/state.py").write_text("sessions = {}\n")
    store.write_text(store.read_text().replace("append(m)", "append(x)"))
    os.utime(store, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = scan_paths([project], cache_dir=cache, jobs=1)
    assert [f.context for f in again.findings] == ["sessions.setdefault(sid, []).append(x)"]


def test_cache_with_old_files_uses_stat_index_and_stays_correct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "p"
    cache = tmp_path / "cache"
    write_tree(project, SERVICE)
    old = time.time() - 3600
    for path in project.rglob("*.py"):
        os.utime(path, (old, old))
    scan_paths([project], cache_dir=cache, jobs=1)
    from autogen_doctor.scan.cache import FactsCache

    state_py = project / "svc" / "state.py"
    recorded = FactsCache(cache, roots=[str(project.resolve())])
    info = state_py.stat()
    assert recorded.lookup(str(state_py), info.st_size, info.st_mtime_ns, ("python", "svc.state", False))
    (project / "svc/state.py").write_text("sessions = []\n")  # new mtime: re-read
    result = scan_paths([project], cache_dir=cache, jobs=1)
    assert "module-level list" in result.findings[0].message


def test_scaling_evidence_escalates_ad1_warnings(tmp_path, monkeypatch):
    pytest.importorskip("autogen_doctor.scan.deploy")
    monkeypatch.chdir(tmp_path)
    files = dict(SERVICE)
    files["Dockerfile"] = 'FROM python:3.11\nCMD ["uvicorn", "svc.main:app", "--workers", "4"]\n'
    write_tree(tmp_path, files)
    result = scan_paths([tmp_path], use_cache=False, jobs=1)
    ad101 = [f for f in result.findings if f.code == "AD101"]
    assert ad101 and ad101[0].severity.value == "error"
    assert "several processes" in ad101[0].message and "Dockerfile" in ad101[0].message
    without = scan_paths([tmp_path / "svc"], use_cache=False, jobs=1)
    assert [f.severity.value for f in without.findings if f.code == "AD101"] == ["warning"]


def test_scan_stdlib_and_autogen_packages_without_traceback(tmp_path):
    autogen_agentchat = pytest.importorskip("autogen_agentchat")
    autogen_core = pytest.importorskip("autogen_core")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    roots = [stdlib, Path(autogen_agentchat.__file__).parent, Path(autogen_core.__file__).parent]
    result = scan_paths(roots, jobs=os.cpu_count(), cache_dir=tmp_path / "cache")
    # Debian's python3 ships CPython's test suite separately (libpython3.11-testsuite): a venv made
    # from it has no Lib/test files, about 780 files in all here instead of about 2000.
    has_test_suite = (stdlib / "test" / "bad_coding.py").is_file()
    assert result.files_scanned > (1000 if has_test_suite else 500)
    messages = {Path(error.path).name: error.message for error in result.errors}
    if has_test_suite:  # known-bad files shipped with CPython's own tests
        assert "bad_coding.py" in messages and "badsyntax_3131.py" in messages
        assert "py2_test_grammar.py" in messages
    assert not [error for error in result.errors if "internal error" in error.message or error.path.startswith("<")]
    assert all(error.path.endswith(".py") or "/" in error.path for error in result.errors)


def test_unchanged_tree_reuses_the_last_result_and_any_change_scans_again(tmp_path, monkeypatch):
    import autogen_doctor.scan.engine as engine

    project = write_tree(tmp_path / "p", {
        "svc/__init__.py": "",
        "svc/state.py": "sessions = {}\n",
        "svc/store.py": "from .state import sessions\n\ndef remember(sid, m):\n    sessions[sid] = m\n",
        "svc/main.py": ("from fastapi import FastAPI\nfrom .store import remember\napp = FastAPI()\n\n"
                        "@app.post('/chat')\ndef chat(sid: str, m: str):\n    remember(sid, m)\n"),
    })
    old = time.time() - 100  # older than the racy-mtime window, so stat data is trusted
    for path in project.rglob("*.py"):
        os.utime(path, (old, old))
    monkeypatch.chdir(project)
    cache = tmp_path / "cache"
    first = scan_paths([Path(".")], jobs=1, cache_dir=cache)
    assert [f.code for f in first.findings] == ["AD101"]

    def no_analysis(*args, **kwargs):
        raise AssertionError("an unchanged tree must not be analysed again")

    monkeypatch.setattr(engine, "analyze_files", no_analysis)
    again = scan_paths([Path(".")], jobs=1, cache_dir=cache)
    assert again.findings == first.findings and again.files_scanned == first.files_scanned
    monkeypatch.undo()
    monkeypatch.chdir(project)

    # The helper stops writing the module-level dict: the cross-module finding must go away.
    store = project / "svc/store.py"
    store.write_text("from .state import sessions\n\ndef remember(sid, m):\n    return sessions.get(sid)\n")
    os.utime(store, (old + 1, old + 1))
    after = scan_paths([Path(".")], jobs=1, cache_dir=cache)
    assert after.findings == []


def test_generated_file_with_too_many_functions_is_an_error_not_a_memory_hog(tmp_path, monkeypatch):
    from autogen_doctor.scan import facts

    monkeypatch.setattr(facts, "MAX_FUNCTIONS", 100)  # the real bound is 50,000: same code path
    (tmp_path / "generated.py").write_text("".join(f"def f{i}():\n    pass\n" for i in range(150)))
    (tmp_path / "app.py").write_text("sessions = {}\n")
    result = scan_paths([tmp_path], use_cache=False, jobs=1)
    assert [error.message for error in result.errors] == [
        "more than 100 functions in one file (generated code?); not analysed"]
    assert result.files_scanned >= 1
