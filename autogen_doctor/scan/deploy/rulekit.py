"""Shared plumbing for the deployment-file rules (AD35x, AD4xx): facts in, findings out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from autogen_doctor.scan.deploy.facts import EphemeralMount, ProcessCount, ScalingFact
from autogen_doctor.scan.deploy.images import link_images
from autogen_doctor.scan.findings import Finding, Severity

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def how_many(count: ProcessCount, plural: str, singular: str) -> str:
    """"4 worker processes", "one worker process per CPU", "up to 10 replicas (default of $R)"."""
    head, _, tail = count.label.partition(" (")
    tail = f" ({tail}" if tail else ""
    if head == "one per CPU":
        return f"one {singular} per CPU{tail}"
    return f"{head} {plural}{tail}"


def scaling_findings(project: "Project", concepts: set[str], code: str, severity: Severity,
                     message: Callable[[ScalingFact], str], fix: Callable[[ScalingFact], str]) -> Iterator[Finding]:
    """One finding per scaling fact of the given concepts that runs several processes."""
    link_images(project)
    for deploy_file in project.deploy_files:
        for fact in getattr(deploy_file, "scaling", ()):
            if fact.concept in concepts and fact.count.several:
                yield Finding(code=code, severity=severity, path=deploy_file.display_path,
                              line=fact.position.line, column=fact.position.column,
                              end_line=fact.position.line, end_column=fact.position.end_column, message=message(fact),
                              symbol=fact.symbol, fix=fix(fact), context=fact.position.context)


def mount_findings(project: "Project", concept: str, code: str, severity: Severity,
                   message: Callable[[EphemeralMount], str], fix: Callable[[EphemeralMount], str]) -> Iterator[Finding]:
    """One finding per ephemeral writable mount of the given concept."""
    for deploy_file in project.deploy_files:
        for mount in getattr(deploy_file, "ephemeral", ()):
            if mount.concept == concept:
                yield Finding(code=code, severity=severity, path=deploy_file.display_path,
                              line=mount.position.line, column=mount.position.column,
                              end_line=mount.position.line, end_column=mount.position.end_column,
                              message=message(mount),
                              symbol=mount.symbol, fix=fix(mount), context=mount.position.context)
