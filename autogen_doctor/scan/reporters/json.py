"""`--format json`: `{"version", "findings": [...], "errors": [...], "summary": {...}}`."""

from __future__ import annotations

import json

from autogen_doctor.scan.reporters import Report, summary


def render_json(report: Report) -> str:
    document = {
        "version": report.version,
        "findings": [finding.to_json() for finding in report.findings],
        "errors": [error.to_json() for error in report.errors],
        "summary": summary(report),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
