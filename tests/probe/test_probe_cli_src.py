"""`probe --src`: each cause found by the probe is linked to the scan findings that explain it."""

from autogen_doctor.probe.link import attach_findings, cause_names, link_findings
from autogen_doctor.probe.verdict import CauseReport, Verdict
from autogen_doctor.scan.findings import Finding, Severity


def finding(code):
    return Finding(code=code, severity=Severity.WARNING, path="app.py", line=3, column=1, message=f"{code} here")


def test_each_cause_links_only_its_families():
    findings = [finding(code) for code in ("AD101", "AD201", "AD301", "AD401", "AD501")]
    linked = link_findings(["process-local-state", "lost-update"], findings)
    assert [(item["cause"], item["code"]) for item in linked] == [
        ("process-local-state", "AD101"), ("process-local-state", "AD301"), ("process-local-state", "AD401"),
        ("lost-update", "AD501")]
    assert [item["code"] for item in link_findings(["not-rehydrated"], findings)] == ["AD201", "AD301"]
    assert link_findings(["history-truncated"], findings) == []
    assert link_findings([], findings) == []


def test_cause_names_lists_the_primary_cause_first():
    verdict = Verdict(verdict="state-loss", cause="cross-session-leak",
                      causes=[CauseReport("cross-session-leak", 3), CauseReport("lost-update", 1)])
    assert cause_names(verdict) == ["cross-session-leak", "lost-update"]


def test_a_scan_that_finds_nothing_links_nothing_and_keeps_the_verdict(tmp_path):
    (tmp_path / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    verdict = Verdict(verdict="state-loss", cause="process-local-state",
                      causes=[CauseReport("process-local-state", 5)])
    attach_findings(verdict, tmp_path)
    assert verdict.linked_findings == [] and verdict.verdict == "state-loss"
