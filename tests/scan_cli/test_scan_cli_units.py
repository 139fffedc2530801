"""The pieces of the scan CLI layer on hand-made findings: selection, config, baseline, reporters.

The rules here are built in the test and never registered: the reporters only read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.baseline import build_baseline, read_baseline, write_baseline
from autogen_doctor.scan.config import discover_config, load_config_file
from autogen_doctor.scan.findings import Finding, ScanError, Severity
from autogen_doctor.scan.options import CommandLine, build_options
from autogen_doctor.scan.registry import Rule, RuleDoc
from autogen_doctor.scan.reporters import Report, UnusedSuppression, render, summary
from autogen_doctor.scan.reporters.github import escape_data, escape_property
from autogen_doctor.scan.reporters.text import summary_line
from autogen_doctor.scan.selection import PerFileIgnore, RuleSelection, parse_per_file_ignore_flag
from autogen_doctor.scan.suppress import parse_suppressions
from scan_cli_support import SARIF_SCHEMA

KNOWN = ("AD101", "AD102", "AD201", "AD401")


def _finding(code="AD101", severity=Severity.WARNING, path="app/main.py", line=12, column=5,
             symbol="SESSIONS", context="SESSIONS[session_id] = history", **extra) -> Finding:
    return Finding(code=code, severity=severity, path=path, line=line, column=column,
                   message=f"{symbol} is process-local", symbol=symbol, context=context,
                   fix="keep it in Redis", **extra)


def _rule(code: str, severity: Severity) -> Rule:
    doc = RuleDoc(what_it_does="Finds state kept in process memory.", why_bad="Workers do not share it.",
                  example="SESSIONS = {}", use_instead="redis")
    return Rule(code=code, name=f"rule-{code.lower()}", severity=severity, summary="State in process memory",
                check=lambda project: [], doc=doc)


def _report(findings, errors=(), **extra) -> Report:
    rules = {code: _rule(code, Severity.WARNING) for code in KNOWN}
    return Report(version="0.1.0", findings=list(findings), errors=list(errors), files_scanned=3,
                  rules=rules, cwd=Path("/srv/project"), **extra)


# selection -------------------------------------------------------------------------------

def test_more_specific_selector_wins_and_ignore_wins_ties():
    family_minus_one = RuleSelection(select=("AD1",), ignore=("AD102",))
    assert family_minus_one.enabled("AD101") and not family_minus_one.enabled("AD102")
    assert not family_minus_one.enabled("AD401")
    one_of_family = RuleSelection(select=("ALL", "AD101"), ignore=("AD1",))
    assert one_of_family.enabled("AD101") and not one_of_family.enabled("AD102")
    assert one_of_family.enabled("AD401")
    assert not RuleSelection(select=("AD101",), ignore=("AD101",)).enabled("AD101")


def test_bad_selectors_are_one_line_usage_errors(tmp_path):
    for bad in (["XY1"], ["AD9"], ["AD199"]):
        with pytest.raises(UserError) as caught:
            build_options(CommandLine(select=bad), discover_config(tmp_path, enabled=False), KNOWN, tmp_path)
        assert "\n" not in str(caught.value)


def test_per_file_ignore_patterns_match_names_anywhere_and_anchored_paths(tmp_path):
    by_name = parse_per_file_ignore_flag("test_*.py:AD1", KNOWN, tmp_path)
    assert by_name.ignores(tmp_path / "deep" / "dir" / "test_app.py", "AD101")
    assert not by_name.ignores(tmp_path / "deep" / "test_app.py", "AD401")
    assert not by_name.ignores(tmp_path / "app.py", "AD101")
    anchored = PerFileIgnore(pattern="legacy/**", codes=("AD101",), base_dir=tmp_path)
    assert anchored.ignores(tmp_path / "legacy" / "old" / "views.py", "AD101")
    assert not anchored.ignores(tmp_path / "src" / "legacy.py", "AD101")
    with pytest.raises(UserError):
        parse_per_file_ignore_flag("no-codes-here", KNOWN, tmp_path)


# config ----------------------------------------------------------------------------------

def test_nearest_pyproject_with_our_table_is_found_walking_up(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.autogen-doctor]\nfail-on = "error"\nignore = ["AD2"]\n')
    nested = tmp_path / "pkg" / "sub"
    nested.mkdir(parents=True)
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "pkg"\n')  # no table: skipped
    config = discover_config(nested)
    assert config.path == (tmp_path / "pyproject.toml").resolve()
    options = build_options(CommandLine(), config, KNOWN, nested)
    assert options.fail_on is Severity.ERROR
    assert not options.selection.enabled("AD201") and options.selection.enabled("AD101")


def test_flags_replace_config_values(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.autogen-doctor]\nfail-on = "error"\nformat = "json"\njobs = 3\ncache = false\n'
        'baseline = "ci/baseline.json"\n')
    config = discover_config(tmp_path)
    from_config = build_options(CommandLine(), config, KNOWN, tmp_path)
    assert (from_config.format, from_config.jobs, from_config.use_cache) == ("json", 3, False)
    assert from_config.baseline == (tmp_path / "ci" / "baseline.json").resolve()
    flagged = build_options(CommandLine(fail_on="info", format="sarif", jobs=1, cache=True), config, KNOWN, tmp_path)
    assert (flagged.fail_on, flagged.format, flagged.jobs, flagged.use_cache) == (Severity.INFO, "sarif", 1, True)


@pytest.mark.parametrize("body, expected", [
    ('fail_on = "error"', "did you mean 'fail-on'"),
    ('fail-on = "fatal"', "fail-on must be info, warning or error"),
    ("jobs = 0", "jobs must be a whole number"),
    ('select = [1]', "select must be a list of strings"),
    ('per-file-ignores = ["x"]', "per-file-ignores must be a table"),
    ("cache = 1", "cache must be true or false"),
    ("format = 'xml'", "format must be one of"),
])
def test_bad_config_is_one_line_error_naming_the_key(tmp_path, body, expected):
    (tmp_path / "pyproject.toml").write_text(f"[tool.autogen-doctor]\n{body}\n")
    with pytest.raises(UserError) as caught:
        build_options(CommandLine(), discover_config(tmp_path), KNOWN, tmp_path)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_invalid_toml_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.autogen-doctor\n")
    with pytest.raises(UserError, match="invalid TOML"):
        discover_config(tmp_path)


def test_pyproject_that_is_not_utf8_is_a_usage_error_not_a_crash(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe[tool.autogen-doctor]\n")
    with pytest.raises(UserError, match="invalid TOML: not UTF-8") as caught:
        discover_config(tmp_path)
    assert "\n" not in str(caught.value)


def test_select_with_only_empty_values_is_refused_rather_than_disabling_every_rule(tmp_path):
    settings = discover_config(tmp_path, enabled=False)
    for empty in ([""], [" , "], ["", ""]):
        with pytest.raises(UserError, match="--select was given no rule codes"):
            build_options(CommandLine(select=empty), settings, KNOWN, tmp_path)
    kept = build_options(CommandLine(select=["", "AD1"]), settings, KNOWN, tmp_path)
    assert kept.selection.enabled("AD101") and not kept.selection.enabled("AD201")


def test_explicit_config_file_holds_keys_at_top_level(tmp_path):
    custom = tmp_path / "autogen-doctor.toml"
    custom.write_text('select = ["AD4"]\n[per-file-ignores]\n"tests/**" = ["AD101"]\n')
    options = build_options(CommandLine(), load_config_file(custom), KNOWN, tmp_path)
    assert options.selection.enabled("AD401") and not options.selection.enabled("AD101")
    assert options.per_file_ignores[0].ignores(tmp_path / "tests" / "t.py", "AD101")


# baseline --------------------------------------------------------------------------------

def test_baseline_ignores_line_numbers_but_counts_duplicates(tmp_path):
    old = [_finding(line=12), _finding(line=30), _finding(code="AD401", symbol=None, context="workers = 4")]
    path = tmp_path / "baseline.json"
    write_baseline(path, old, tmp_path)
    baseline = read_baseline(path)
    shifted = [_finding(line=15), _finding(line=33), _finding(code="AD401", symbol=None, context="workers  =  4",
                                                             line=2)]
    new, known = baseline.split(shifted, tmp_path)
    assert new == [] and len(known) == 3
    third_copy = shifted + [_finding(line=50)]
    new, known = baseline.split(third_copy, tmp_path)
    assert len(new) == 1 and len(known) == 3
    changed = baseline.split([_finding(context="SESSIONS[user_id] = history")], tmp_path)[0]
    assert len(changed) == 1


def test_baseline_file_is_sorted_and_byte_stable(tmp_path):
    findings = [_finding(path="b.py"), _finding(path="a.py"), _finding(path="a.py", code="AD102")]
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    write_baseline(first, findings, tmp_path)
    write_baseline(second, list(reversed(findings)), tmp_path)
    assert first.read_bytes() == second.read_bytes()
    paths = [entry["path"] for entry in json.loads(first.read_text())["findings"]]
    assert paths == sorted(paths)
    assert "line" not in first.read_text()


def test_baseline_that_is_a_folder_is_a_plain_one_line_error(tmp_path):
    with pytest.raises(UserError) as caught:
        read_baseline(tmp_path)
    assert str(caught.value) == f"baseline {tmp_path} is a directory"


def test_baseline_paths_are_relative_to_the_baseline_file(tmp_path):
    (tmp_path / "sub").mkdir()
    recorded = build_baseline([_finding(path="app/main.py")], tmp_path, tmp_path / "sub")
    assert recorded.entries[0].path == "../app/main.py" or recorded.entries[0].path.endswith("/app/main.py")
    baseline_file = tmp_path / "ci" / "baseline.json"
    write_baseline(baseline_file, [_finding(path="app/main.py")], tmp_path)
    # Run from a subdirectory: the display path changes, the baseline still matches.
    new, known = read_baseline(baseline_file).split([_finding(path="../app/main.py")], tmp_path / "sub")
    assert new == [] and len(known) == 1


@pytest.mark.parametrize("content", ["not json", '{"findings": 3}', '{"version": 1, "findings": [{"x": 1}]}'])
def test_foreign_baseline_is_a_usage_error(tmp_path, content):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(UserError):
        read_baseline(path)


# suppression parsing extensions ------------------------------------------------------------

def test_suppression_kind_and_column_are_recorded():
    first, second = parse_suppressions("x = 1  # noqa: AD101\n# autogen-doctor: ignore[AD101,AD2]\n")
    assert (first.kind, first.column, first.text()) == ("noqa", 8, "# noqa: AD101")
    assert second.kind == "autogen-doctor" and second.text() == "# autogen-doctor: ignore[AD101, AD2]"


# reporters -------------------------------------------------------------------------------

def test_text_summary_counts_by_severity_and_mentions_unscanned_files():
    report = _report([_finding(severity=Severity.ERROR), _finding(severity=Severity.ERROR, line=20),
                      _finding()], errors=[ScanError("bad.py", "invalid syntax (line 3)")], suppressed=2)
    line = summary_line(report)
    assert line.startswith("Found 3 findings (2 errors, 1 warning) in 3 files")
    assert "1 file could not be scanned" in line and "2 suppressed" in line
    text = render(report, "text")
    assert "app/main.py:12:5: AD101 SESSIONS is process-local\n  help: keep it in Redis\n" in text
    assert "bad.py: error: invalid syntax (line 3)\n" in text
    assert summary_line(_report([])) == "No findings in 3 files."


def test_text_colour_only_when_asked():
    report = _report([_finding()])
    assert "\x1b[" not in render(report, "text", color=False)
    assert "\x1b[" in render(report, "text", color=True)


def test_json_has_exactly_the_contract_keys_and_summary_counts():
    report = _report([_finding(), _finding(code="AD401", severity=Severity.ERROR)], baselined=4, failing=2,
                     exit_code=1)
    document = json.loads(render(report, "json"))
    assert set(document) == {"version", "findings", "errors", "summary"}
    required = {"code", "family", "severity", "path", "line", "column", "end_line", "message", "symbol",
                "fix", "context"}
    assert all(required <= set(item) for item in document["findings"])
    assert document["summary"]["by_severity"] == {"error": 1, "warning": 1, "info": 0}
    assert document["summary"]["by_code"] == {"AD101": 1, "AD401": 1}
    assert document["summary"]["baselined"] == 4 and document["summary"]["exit_code"] == 1
    assert summary(report)["files_scanned"] == 3


def test_github_escaping_follows_the_toolkit():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    finding = _finding(path="dir,with:odd.py", severity=Severity.INFO, end_line=12, end_column=20)
    line = render(_report([finding]), "github").splitlines()[0]
    assert line == ("::notice file=dir%2Cwith%3Aodd.py,line=12,col=5,endLine=12,endColumn=20,title=AD101"
                    "::SESSIONS is process-local%0Ahelp: keep it in Redis")


def test_github_maps_severity_to_command_and_lists_errors():
    report = _report([_finding(severity=Severity.ERROR), _finding(line=40)], errors=[ScanError("x.py", "bad")])
    lines = render(report, "github").splitlines()
    assert lines[0].startswith("::error file=app/main.py,line=12,")
    assert lines[1].startswith("::warning file=app/main.py,line=40,")
    assert lines[2] == "::error file=x.py,title=autogen-doctor::could not scan: bad"


def test_sarif_uris_percent_encode_spaces_hashes_and_non_ascii_names():
    report = _report([_finding(path="my app/caf\u00e9 #1.py")])
    location = json.loads(render(report, "sarif"))["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "my%20app/caf%C3%A9%20%231.py",
                                                                "uriBaseId": "%SRCROOT%"}


def test_sarif_is_valid_and_fingerprints_ignore_line_numbers():
    schema = json.loads(SARIF_SCHEMA.read_text())
    unused = [UnusedSuppression("app/main.py", 3, 7, "# noqa: AD102", ("AD102",))]
    before = _report([_finding(line=12, end_line=12, end_column=30), _finding(line=12, column=5),
                      _finding(code="AD401", severity=Severity.INFO, path="deploy/k8s.yaml", symbol=None, context="replicas: 3")],
                     errors=[ScanError("bad.py", "invalid syntax")], unused_suppressions=unused)
    document = json.loads(render(before, "sarif"))
    jsonschema.validate(document, schema)
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(KNOWN)
    first = run["results"][0]
    assert first["ruleIndex"] == 0 and first["level"] == "warning"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "app/main.py",
                                                                           "uriBaseId": "%SRCROOT%"}
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 5,
                                                                 "endLine": 12, "endColumn": 30}
    assert run["results"][2]["level"] == "note"
    fingerprints = [result["partialFingerprints"] for result in run["results"]]
    assert fingerprints[0] != fingerprints[1]  # two identical statements: distinct occurrences

    after = _report([_finding(line=40, end_line=40, end_column=30), _finding(line=40, column=5),
                     _finding(code="AD401", severity=Severity.INFO, path="deploy/k8s.yaml", symbol=None, context="replicas: 3")])
    shifted = [result["partialFingerprints"] for result in json.loads(render(after, "sarif"))["runs"][0]["results"]]
    assert shifted == fingerprints


def test_rule_codes_from_module_names_match_the_registry():
    """scan validates --select without importing the rules (start-up): the module names
    (`ad101_….py`) must keep naming exactly the registered codes."""
    from autogen_doctor.scan.cli import rule_codes
    from autogen_doctor.scan.registry import load_rules

    assert rule_codes() == sorted(load_rules())
