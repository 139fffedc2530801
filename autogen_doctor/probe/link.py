"""`--src PATH`: scan the service's code and link each cause found by the probe to the findings
that explain it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Rule families (the code's first three characters) that explain each cause. AD3 (ephemeral
# storage) explains both: another pod cannot see the file, and a restart loses it. A shared
# module-level agent or history (AD1) and one conversation for everyone (AD6) leak one session's
# words into another.
CAUSE_FAMILIES: dict[str, tuple[str, ...]] = {
    "process-local-state": ("AD1", "AD4", "AD3"),
    "not-rehydrated": ("AD2", "AD3"),
    "lost-update": ("AD5",),
    "cross-session-leak": ("AD6", "AD1"),
    "history-truncated": (),
}


def cause_names(verdict: Any) -> list[str]:
    """Causes of a verdict, primary first, whatever shape `causes` items take."""
    names: list[str] = []
    primary = getattr(verdict, "cause", None)
    if isinstance(primary, str):
        names.append(primary)
    for item in getattr(verdict, "causes", None) or []:
        if isinstance(item, str):
            name = item
        elif isinstance(item, dict):
            name = item.get("cause")
        else:
            name = getattr(item, "cause", None)
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def link_findings(causes: list[str], findings: list[Any]) -> list[dict[str, Any]]:
    """One entry per (cause, finding) pair: the finding's JSON plus the cause it explains."""
    linked = []
    for cause in causes:
        families = CAUSE_FAMILIES.get(cause, ())
        for finding in findings:
            code = getattr(finding, "code", "")
            if code[:3] in families:
                data = finding.to_json() if hasattr(finding, "to_json") else dict(finding)
                linked.append({"cause": cause, **data})
    return linked


def scan_for_link(src: Path) -> tuple[list[Any], str | None]:
    """Findings of a scan of `src`, and a one-line note when the scan could not run."""
    try:
        from autogen_doctor.scan.engine import scan_paths
    except ImportError as error:
        return [], f"scan unavailable ({error})"
    try:
        result = scan_paths([Path(src)])
    except Exception as error:  # the probe verdict stands even when the scan fails
        return [], f"scan of {src} failed ({type(error).__name__}: {error})"
    findings = getattr(result, "findings", result)
    return list(findings or []), None


def attach_findings(verdict: Any, src: Path) -> str | None:
    """Fill `verdict.linked_findings` from a scan of `src`; returns a note if the scan failed."""
    findings, note = scan_for_link(src)
    linked = link_findings(cause_names(verdict), findings)
    try:
        verdict.linked_findings = linked
    except AttributeError:
        return "this verdict cannot hold linked findings"
    notes = getattr(verdict, "notes", None)
    if note and isinstance(notes, list):
        notes.append(f"--src: {note}")
    return note
