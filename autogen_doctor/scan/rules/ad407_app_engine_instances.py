"""## What it does
Finds Google App Engine `app.yaml` files that let the service run on several instances:
`manual_scaling.instances` above 1, `basic_scaling.max_instances` above 1,
`automatic_scaling.max_instances` above 1, and automatic scaling with no `max_instances` (which
is also what App Engine does when the file has no scaling section at all). Worker counts in
`entrypoint:` (`gunicorn -w 4`) are AD401.

Silent when the ceiling is 1 (`manual_scaling: {instances: 1}`, `max_instances: 1`).

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
App Engine starts and stops instances with the traffic and spreads requests across them. A
conversation kept in one instance's memory or on its disk (`/tmp` is in-memory there) is missing
on the instance that serves the next turn, and gone when the instance is shut down.

## Example
```yaml
runtime: python312
entrypoint: gunicorn -b :$PORT main:app
automatic_scaling:
  min_instances: 1
```

## Use instead
Keep each session's history in Firestore, Memorystore (Redis) or Cloud SQL and restore it on
every request, so that any instance can serve any turn. `max_instances: 1` only hides the problem
until the instance restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import PLATFORM_INSTANCES, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} runs on {how_many(fact.count, 'instances', 'instance')} (`{fact.evidence}`): "
            f"each instance has its own memory and requests are spread across them")


def _fix(fact: ScalingFact) -> str:
    return ("Keep conversation state in Firestore, Memorystore (Redis) or Cloud SQL keyed by session id and "
            "restore it on every request")


@rule(code="AD407", name="app-engine-instances", severity=Severity.INFO,
      summary="App Engine service runs on several instances")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {PLATFORM_INSTANCES}, "AD407", Severity.INFO, _message, _fix)
