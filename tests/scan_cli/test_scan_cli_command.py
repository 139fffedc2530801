"""`autogen-doctor scan` run as a subprocess on real files, the way a CI step runs it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from autogen_doctor.scan.findings import Severity
from autogen_doctor.scan.registry import load_rules
from scan_cli_support import (
    CLEAN_APP,
    SARIF_SCHEMA,
    STATEFUL_APP,
    append_to_line,
    findings_of,
    insert_line,
    json_report,
    reported_line,
    run_scan,
)


def _ad101_severity() -> Severity:
    rules = load_rules()
    assert "AD101" in rules, "AD101 is not registered yet"
    return rules["AD101"].severity


# exit codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_fail_on_level_decides_exit_code(stateful_project, level):
    completed = run_scan(stateful_project, "--fail-on", level)
    expected = 1 if _ad101_severity().rank >= Severity.parse(level).rank else 0
    assert completed.returncode == expected, completed.stdout + completed.stderr
    assert "AD101" in completed.stdout  # reported whether or not it fails the step


def test_clean_service_exits_zero_even_at_info(tmp_path):
    (tmp_path / "service.py").write_text(CLEAN_APP)
    completed = run_scan(tmp_path, "--fail-on", "info")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.strip() == "No findings in 1 file."


def test_unknown_path_is_one_line_usage_error(tmp_path):
    completed = run_scan(tmp_path, "does-not-exist")
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0
    assert "does-not-exist" in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "fatal"], "--fail-on must be info, warning or error"),
    (["--format", "xml"], "--format must be one of"),
    (["--select", "AD199"], "unknown rule code 'AD199'"),
    (["--baseline", "missing.json"], "does not exist"),
])
def test_bad_flag_values_are_one_line_usage_errors(stateful_project, args, message):
    completed = run_scan(stateful_project, *args)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_folder_without_scannable_files_exits_two(tmp_path):
    (tmp_path / "README.md").write_text("# nothing to scan\n")
    completed = run_scan(tmp_path)
    assert completed.returncode == 2
    assert "no Python or deployment files" in completed.stderr


def test_parse_error_is_listed_but_does_not_fail_alone(tmp_path):
    (tmp_path / "service.py").write_text(CLEAN_APP)
    (tmp_path / "broken.py").write_text("def broken(:\n    pass\n")
    completed = run_scan(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "broken.py: error:" in completed.stdout
    assert "1 file could not be scanned" in completed.stdout
    report = json_report(run_scan(tmp_path, "--format", "json"))
    assert [error["path"] for error in report["errors"]] == ["broken.py"]


def test_every_file_failing_to_parse_exits_two(tmp_path):
    (tmp_path / "broken.py").write_text("def broken(:\n    pass\n")
    completed = run_scan(tmp_path)
    assert completed.returncode == 2
    assert "broken.py: error:" in completed.stdout
    assert "no file could be scanned" in completed.stderr


def test_named_file_scan_does_not_read_is_skipped_quietly(stateful_project):
    (stateful_project / "notes.md").write_text("# notes\n")
    completed = run_scan(stateful_project, "notes.md")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Nothing to scan" in completed.stderr


# formats ---------------------------------------------------------------------------------

def test_text_format_is_ruff_like_with_fix_hint_and_summary(stateful_project):
    line = reported_line(stateful_project)
    completed = run_scan(stateful_project)
    lines = completed.stdout.splitlines()
    first = next(index for index, text in enumerate(lines) if " AD101 " in text)
    assert lines[first].startswith(f"app/main.py:{line}:")
    assert lines[first + 1].startswith("  help: ")
    assert lines[-1].startswith("Found 1 finding (1 ") and lines[-1].endswith(" in 2 files.")
    assert "\x1b[" not in completed.stdout  # not a TTY: no colour


def test_json_format_follows_the_contract(stateful_project):
    report = json_report(run_scan(stateful_project, "--format", "json"))
    assert set(report) == {"version", "findings", "errors", "summary"}
    (finding,) = report["findings"]
    for key in ("code", "family", "severity", "path", "line", "column", "end_line", "message", "symbol",
                "fix", "context"):
        assert key in finding
    assert (finding["code"], finding["family"], finding["path"]) == ("AD101", "AD1", "app/main.py")
    assert "SESSIONS" in finding["context"]
    assert report["summary"]["files_scanned"] == 2
    assert report["summary"]["by_code"] == {"AD101": 1}


def test_sarif_output_validates_against_the_schema(stateful_project):
    completed = run_scan(stateful_project, "--format", "sarif", "--output", "out/report.sarif")
    assert completed.returncode in (0, 1)
    assert completed.stdout == ""
    assert completed.stderr.startswith("Found 1 finding")
    document = json.loads((stateful_project / "out" / "report.sarif").read_text())
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(load_rules())
    (result,) = run["results"]
    ad101 = rules[result["ruleIndex"]]
    assert ad101["id"] == result["ruleId"] == "AD101"
    assert ad101["help"]["markdown"] and ad101["fullDescription"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/main.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == reported_line(stateful_project)
    assert result["partialFingerprints"]


def test_github_format_is_workflow_commands(stateful_project):
    line = reported_line(stateful_project)
    completed = run_scan(stateful_project, "--format", "github")
    (annotation,) = completed.stdout.splitlines()
    command = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}[_ad101_severity()]
    assert annotation.startswith(f"::{command} file=app/main.py,line={line},col=")
    assert ",title=AD101::" in annotation
    assert "\n" not in annotation.split("::", 2)[2]


# configuration ---------------------------------------------------------------------------

def test_config_in_pyproject_applies_and_flags_win(stateful_project):
    (stateful_project / "pyproject.toml").write_text('[tool.autogen-doctor]\nignore = ["AD1"]\n')
    quiet = run_scan(stateful_project, "--format", "json")
    assert findings_of(quiet) == [] and quiet.returncode == 0
    assert json_report(quiet)["summary"]["deselected"] == 1
    # --ignore on the command line replaces the config's list.
    loud = run_scan(stateful_project, "--format", "json", "--ignore", "AD2")
    assert [item["code"] for item in findings_of(loud)] == ["AD101"]
    # From a subfolder, the pyproject above still applies.
    nested = run_scan(stateful_project / "app", "--format", "json")
    assert findings_of(nested) == []
    ignored = run_scan(stateful_project, "--format", "json", "--no-config")
    assert len(findings_of(ignored)) == 1


def test_fail_on_from_config_is_overridden_by_flag(stateful_project):
    if _ad101_severity() is Severity.ERROR:
        pytest.skip("AD101 is an error: no level below it to configure")
    (stateful_project / "pyproject.toml").write_text('[tool.autogen-doctor]\nfail-on = "error"\n')
    assert run_scan(stateful_project).returncode == 0
    assert run_scan(stateful_project, "--fail-on", "info").returncode == 1


def test_unknown_config_key_is_one_line_usage_error(stateful_project):
    (stateful_project / "pyproject.toml").write_text('[tool.autogen-doctor]\nfail_on = "error"\n')
    completed = run_scan(stateful_project)
    assert completed.returncode == 2
    assert "unknown key 'fail_on'; did you mean 'fail-on'?" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_per_file_ignores_flag_and_exclude(stateful_project):
    ignored = run_scan(stateful_project, "--format", "json", "--per-file-ignores", "app/main.py:AD1")
    assert findings_of(ignored) == []
    other = run_scan(stateful_project, "--format", "json", "--per-file-ignores", "app/other.py:AD1")
    assert len(findings_of(other)) == 1
    excluded = run_scan(stateful_project, "--format", "json", "--exclude", "main.py")
    assert findings_of(excluded) == [] and json_report(excluded)["summary"]["files_scanned"] == 1


# suppressions ----------------------------------------------------------------------------

@pytest.mark.parametrize("comment", ["# autogen-doctor: ignore[AD101]", "# noqa: AD101", "# autogen-doctor: ignore"])
@pytest.mark.parametrize("placement", ["same line", "line before"])
def test_suppression_comment_hides_the_finding(stateful_project, comment, placement):
    main = stateful_project / "app" / "main.py"
    line = reported_line(stateful_project)
    if placement == "same line":
        append_to_line(main, line, "  " + comment)
    else:
        insert_line(main, line, comment)
    completed = run_scan(stateful_project, "--format", "json", "--fail-on", "info")
    assert findings_of(completed) == [], completed.stdout
    assert json_report(completed)["summary"]["suppressed"] == 1
    assert completed.returncode == 0


def test_suppression_for_another_code_or_too_far_away_does_not_hide(stateful_project):
    main = stateful_project / "app" / "main.py"
    line = reported_line(stateful_project)
    append_to_line(main, line, "  # noqa: AD401")
    insert_line(main, line - 1, "# autogen-doctor: ignore[AD101]")  # two lines above the finding now
    completed = run_scan(stateful_project, "--format", "json")
    assert [item["code"] for item in findings_of(completed)] == ["AD101"]


def test_unused_suppressions_are_reported_when_asked(stateful_project):
    clean = stateful_project / "app" / "clean.py"
    insert_line(clean, 1, "# autogen-doctor: ignore[AD101]")
    append_to_line(clean, 4, "  # noqa: E501")  # another linter's code: not ours to judge
    main = stateful_project / "app" / "main.py"
    append_to_line(main, reported_line(stateful_project), "  # noqa: AD101")
    plain = run_scan(stateful_project, "--fail-on", "warning")
    assert plain.returncode == 0 and "unused" not in plain.stdout
    asked = run_scan(stateful_project, "--report-unused-suppressions")
    assert asked.returncode == 1
    (unused,) = [text for text in asked.stdout.splitlines() if ": unused suppression" in text]
    assert unused.startswith("app/clean.py:1:1: unused suppression `# autogen-doctor: ignore[AD101]`")
    report = json_report(run_scan(stateful_project, "--report-unused-suppressions", "--format", "json"))
    assert [(item["path"], item["line"]) for item in report["summary"]["unused_suppressions"]] == [("app/clean.py", 1)]


# baseline --------------------------------------------------------------------------------

def test_baseline_survives_inserted_lines_and_catches_new_findings(stateful_project):
    baseline = stateful_project / ".autogen-doctor-baseline.json"
    written = run_scan(stateful_project, "--write-baseline", str(baseline))
    assert written.returncode == 0 and written.stdout == ""
    assert "Wrote 1 finding to baseline" in written.stderr
    assert run_scan(stateful_project, "--baseline", str(baseline), "--fail-on", "info").returncode == 0

    main = stateful_project / "app" / "main.py"
    text = main.read_text()
    main.write_text("import logging\n\nLOG = logging.getLogger(__name__)\n# state lives here for now\n\n" + text)
    shifted = run_scan(stateful_project, "--baseline", str(baseline), "--format", "json", "--fail-on", "info")
    assert findings_of(shifted) == [] and shifted.returncode == 0
    assert json_report(shifted)["summary"]["baselined"] == 1

    length_before = len(main.read_text().splitlines())
    main.write_text(main.read_text() + '\n\n@app.post("/reset/{session_id}")\nasync def reset(session_id: str):\n'
                    '    SESSIONS[session_id] = []\n    return {}\n')
    grown = run_scan(stateful_project, "--baseline", str(baseline), "--format", "json", "--fail-on", "info")
    assert grown.returncode == 1
    (new,) = findings_of(grown)
    assert new["line"] > length_before  # the new handler, not the old one


def test_baseline_from_config_is_relative_to_the_pyproject(stateful_project):
    (stateful_project / "ci").mkdir()
    assert run_scan(stateful_project, "--write-baseline", "ci/baseline.json").returncode == 0
    (stateful_project / "pyproject.toml").write_text('[tool.autogen-doctor]\nbaseline = "ci/baseline.json"\n')
    from_subfolder = run_scan(stateful_project / "app", "--format", "json", "--fail-on", "info")
    assert findings_of(from_subfolder) == [] and from_subfolder.returncode == 0


# speed features: parallel and cached scans give the same answers ---------------------------

def _many_files(root: Path, count: int = 12) -> None:
    for index in range(count):
        folder = root / f"svc{index}"
        folder.mkdir()
        (folder / "main.py").write_text(STATEFUL_APP if index % 2 else CLEAN_APP)
    (root / "broken.py").write_text("def broken(:\n")


def test_jobs_one_and_two_give_identical_reports(tmp_path):
    # Enough files that the engine really uses a worker pool (it parses small sets inline).
    _many_files(tmp_path, count=40)
    one = run_scan(tmp_path, "--format", "json", "--jobs", "1", "--no-cache")
    two = run_scan(tmp_path, "--format", "json", "--jobs", "2", "--no-cache")
    assert one.returncode == two.returncode == 1
    assert json_report(one) == json_report(two)
    assert len(findings_of(one)) == 20 and len(json_report(one)["errors"]) == 1


def test_cache_gives_same_report_and_sees_a_changed_file(tmp_path):
    _many_files(tmp_path, count=4)
    cache = ["--cache-dir", str(tmp_path.parent / f"{tmp_path.name}-cache"), "--format", "json"]
    cold = run_scan(tmp_path, *cache)
    warm = run_scan(tmp_path, *cache)
    assert json_report(cold) == json_report(warm) and len(findings_of(warm)) == 2
    (tmp_path / "svc1" / "main.py").write_text(CLEAN_APP)
    changed = run_scan(tmp_path, *cache)
    assert [item["path"] for item in findings_of(changed)] == ["svc3/main.py"]
    (tmp_path / "svc0" / "main.py").write_text(STATEFUL_APP)
    again = run_scan(tmp_path, *cache)
    assert [item["path"] for item in findings_of(again)] == ["svc0/main.py", "svc3/main.py"]


_HANDLER_USING_IMPORTED_STORE = '''\
from fastapi import FastAPI

from app.state import SESSIONS

app = FastAPI()


@app.post("/chat/{session_id}")
async def chat(session_id: str, message: str):
    history = SESSIONS.get(session_id, [])
    history.append(message)
    SESSIONS[session_id] = history
    return {"reply": len(history)}
'''

_STORE_IN_PROCESS = "SESSIONS = {}\n"

_STORE_IN_REDIS = '''\
import redis


class RedisSessions:
    """Item assignment writes through to Redis, shared by every worker."""

    def __init__(self, client):
        self.client = client

    def get(self, key, default=None):
        value = self.client.get(key)
        return default if value is None else value

    def __setitem__(self, key, value):
        self.client.set(key, value)


SESSIONS = RedisSessions(redis.Redis())
'''


def test_cache_sees_a_change_in_an_imported_module(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(_HANDLER_USING_IMPORTED_STORE)
    state = tmp_path / "app" / "state.py"
    state.write_text(_STORE_IN_PROCESS)
    cache = ["--cache-dir", str(tmp_path.parent / f"{tmp_path.name}-cache"), "--format", "json"]

    assert [item["path"] for item in findings_of(run_scan(tmp_path, *cache))] == ["app/main.py"]
    state.write_text(_STORE_IN_REDIS)  # main.py is untouched; what it imports changed
    assert findings_of(run_scan(tmp_path, *cache)) == []
    state.write_text(_STORE_IN_PROCESS)
    assert [item["path"] for item in findings_of(run_scan(tmp_path, *cache))] == ["app/main.py"]


def test_rules_json_lists_every_registered_rule():
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-m", "autogen_doctor", "rules", "--format", "json"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    listed = json.loads(completed.stdout)
    assert [item["code"] for item in listed] == list(load_rules())
    assert all(item["severity"] in ("info", "warning", "error") and item["summary"] for item in listed)


def test_rules_format_is_case_insensitive_like_scan_and_probe():
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-m", "autogen_doctor", "rules", "--format", "JSON"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert [item["code"] for item in json.loads(completed.stdout)] == list(load_rules())


def test_quiet_prints_findings_without_summary(stateful_project):
    completed = run_scan(stateful_project, "--quiet")
    assert completed.returncode in (0, 1)
    assert completed.stdout.startswith("app/main.py:")
    assert "Found" not in completed.stdout and completed.stderr == ""


def test_an_empty_folder_with_sarif_still_writes_a_valid_sarif_that_says_why(tmp_path):
    """A code-scanning upload step runs after a failed scan too: it needs a file to upload."""
    (tmp_path / "README.md").write_text("# nothing to scan\n")
    report = tmp_path / "out" / "scan.sarif"
    completed = run_scan(tmp_path, "--format", "sarif", "--output", str(report), "--no-cache")
    assert completed.returncode == 2
    assert completed.stderr.strip() == "autogen-doctor: error: no Python or deployment files to scan under ."
    document = json.loads(report.read_text())
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [note["message"]["text"] for note in invocation["toolExecutionNotifications"]] == [
        "no Python or deployment files to scan under ."]
    assert document["runs"][0]["results"] == []
