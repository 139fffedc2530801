"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One run; `tool.driver.rules` holds every registered rule (so `ruleIndex` is stable across
runs), with its `explain` text as help. Locations are relative to `%SRCROOT%` (the directory
the scan ran from, normally the repository root) with forward slashes. Each result carries
a `partialFingerprints` entry built from code, path, symbol and the normalised source line
(never line numbers), plus an occurrence number, so alerts survive unrelated edits.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from autogen_doctor.scan.baseline import fingerprint
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import Rule
from autogen_doctor.scan.reporters import Report

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "autogenDoctorFingerprint/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def information_uri() -> str:
    """The project's home page from its package metadata, else its PyPI page."""
    try:
        for entry in metadata("autogen-doctor").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in {"homepage", "home", "repository", "source"} and url.strip():
                return url.strip()
    except PackageNotFoundError:
        pass
    return "https://pypi.org/project/autogen-doctor/"


def _rule_descriptor(rule: Rule) -> dict:
    markdown = f"**{rule.code} {rule.name}**: {rule.summary}.\n\n{rule.doc.as_markdown()}".rstrip()
    full = rule.doc.what_it_does.strip() or rule.summary
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "help": {"text": markdown, "markdown": markdown},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["autogen-doctor", rule.family, rule.family_name]},
    }


def _artifact_location(path: str, cwd: Path) -> dict:
    posix = PurePosixPath(Path(path).as_posix())
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    # A SARIF uri is a URI reference: a space or `#` in a file name must be percent-encoded
    # (`#` would start a fragment), as as_uri() does for absolute paths.
    return {"uri": quote(str(posix), safe="/"), "uriBaseId": "%SRCROOT%"}


def _region(finding: Finding) -> dict:
    region = {"startLine": max(1, finding.line), "startColumn": max(1, finding.column)}
    end_line = finding.end_line if finding.end_line is not None else finding.line
    end_line = max(end_line, region["startLine"])
    region["endLine"] = end_line
    if finding.end_column is not None:
        end_column = max(1, finding.end_column)
        if end_line == region["startLine"] and end_column <= region["startColumn"]:
            end_column = region["startColumn"] + 1
        region["endColumn"] = end_column
    return region


def _result(finding: Finding, index: dict[str, int], stable_id: str, cwd: Path) -> dict:
    result = {"ruleId": finding.code}
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    text = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
    result.update({
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {
            "artifactLocation": _artifact_location(finding.path, cwd),
            "region": _region(finding),
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: stable_id},
    })
    if finding.trace:
        result["codeFlows"] = [_code_flow(finding, cwd)]
    properties = {key: value for key, value in (("symbol", finding.symbol), ("fix", finding.fix)) if value}
    if properties:
        result["properties"] = properties
    return result


def _code_flow(finding: Finding, cwd: Path) -> dict:
    """The finding's trace (request path -> state) as one SARIF thread flow."""
    locations = [{"location": {
        "physicalLocation": {"artifactLocation": _artifact_location(step.path, cwd),
                             "region": {"startLine": max(1, step.line)}},
        "message": {"text": step.note},
    }} for step in finding.trace]
    return {"threadFlows": [{"locations": locations}]}


def _notification(path: str, message: str, level: str, cwd: Path, line: int | None = None) -> dict:
    location: dict = {"artifactLocation": _artifact_location(path, cwd)}
    if line is not None:
        location["region"] = {"startLine": line}
    return {"level": level, "message": {"text": message}, "locations": [{"physicalLocation": location}]}


def render_sarif(report: Report) -> str:
    rules = list(report.rules.values())
    index = {rule.code: position for position, rule in enumerate(rules)}
    seen: Counter[str] = Counter()
    results = []
    for finding in report.findings:
        base = fingerprint(finding, Path(finding.path).as_posix())
        seen[base] += 1
        results.append(_result(finding, index, f"{base}:{seen[base]}", report.cwd))
    notifications = [_notification(error.path, error.message, "error", report.cwd) for error in report.errors]
    notifications += [_notification(item.path, item.message, "warning", report.cwd, item.line)
                      for item in report.unused_suppressions]
    if report.problem is not None:
        # e.g. nothing to scan: code scanning shows the run failed and why, instead of no file
        notifications.append({"level": "error", "message": {"text": report.problem}})
    run = {
        "tool": {"driver": {
            "name": "autogen-doctor",
            "version": report.version,
            "semanticVersion": report.version,
            "informationUri": information_uri(),
            "rules": [_rule_descriptor(rule) for rule in rules],
        }},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": report.cwd.resolve().as_uri().rstrip("/") + "/"}},
        "invocations": [{"executionSuccessful": report.problem is None,
                         "toolExecutionNotifications": notifications}],
        "results": results,
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
