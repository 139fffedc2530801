"""JUnit XML report: one testcase per session (fails when that session lost memory or saw another
session's codewords) plus one for the overall verdict, so CI test dashboards show the probe."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import INCONCLUSIVE, STATE_LOSS, Verdict
from autogen_doctor.textsafe import escape_text

SUITE = "autogen-doctor probe"
# Characters XML 1.0 cannot carry at all; a backend label read from a reply may contain them.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    """One line of outside text for XML: controls escaped (escape_text), then what XML cannot carry."""
    return _NOT_XML.sub("\ufffd", escape_text(text))


def _clean_lines(lines: list[str]) -> str:
    return "\n".join(_clean(line) for line in lines)


def render_junit(verdict: Verdict, transcript: Transcript) -> str:
    """A valid JUnit XML document (testsuites > testsuite > testcase)."""
    failures = sum(1 for row in verdict.per_session if row.get("causes"))
    overall_failed = verdict.verdict == STATE_LOSS
    skipped = 1 if verdict.verdict == INCONCLUSIVE else 0
    tests = len(verdict.per_session) + 1
    total_failures = failures + (1 if overall_failed else 0)
    suites = ET.Element("testsuites", name=SUITE, tests=str(tests), failures=str(total_failures),
                        errors="0", skipped=str(skipped), time=f"{verdict.duration_s:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=SUITE, tests=str(tests), failures=str(total_failures),
                          errors="0", skipped=str(skipped), time=f"{verdict.duration_s:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("url", verdict.url), ("verdict", verdict.verdict), ("cause", verdict.cause or ""),
                        ("version", verdict.version), ("identity_source", verdict.identity_source or "")):
        ET.SubElement(properties, "property", name=name, value=_clean(value))

    for row in verdict.per_session:
        case = ET.SubElement(suite, "testcase", classname="autogen-doctor.probe.session",
                             name=_clean(row["session"]))
        if row.get("causes"):
            failure = ET.SubElement(case, "failure", type=_clean(row["causes"][0]),
                                    message=_clean(f"session lost memory: {', '.join(row['causes'])}"))
            failure.text = _clean_lines(row.get("evidence") or [])
        summary = (f"turns {row['turns']}, replies {row['replies']}, errors {row['errors']}, "
                   f"recalled {row['recalled']} of {row['expected']}, backends: "
                   f"{', '.join(row['backends']) or 'unknown'}")
        ET.SubElement(case, "system-out").text = _clean(summary)

    overall = ET.SubElement(suite, "testcase", classname="autogen-doctor.probe", name="verdict")
    if overall_failed:
        failure = ET.SubElement(overall, "failure", type=_clean(verdict.cause or STATE_LOSS),
                                message=_clean(verdict.reason))
        failure.text = _clean_lines([f"{report.cause} ({report.count}): {report.summary}"
                                     for report in verdict.causes])
    elif verdict.verdict == INCONCLUSIVE:
        ET.SubElement(overall, "skipped", message=_clean(verdict.reason))
    ET.SubElement(overall, "system-out").text = _clean_lines([verdict.reason, *verdict.notes])

    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
