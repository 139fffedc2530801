"""## What it does
Finds Docker Compose services that run several containers: `deploy.replicas` above 1 (except in
`mode: global`) and the service-level `scale:` above 1. `${REPLICAS:-3}` counts as its default;
`${REPLICAS}` with no default is unknown and stays silent, and so is a replicated store or proxy
(`image: redis:7` with no `build:`).

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
Each replica is a separate container with its own memory and its own writable layer. Compose
spreads connections to the service name across the replicas, so the turns of one conversation
reach containers that never saw its history.

## Example
```yaml
services:
  chat:
    build: .
    deploy:
      replicas: 3
```

## Use instead
Add a store every replica shares and keep the history there:

```yaml
services:
  chat:
    build: .
    environment:
      REDIS_URL: redis://redis:6379/0
    deploy:
      replicas: 3
  redis:
    image: redis:7
```
and restore each session's state from it on every request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import COMPOSE_REPLICAS, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} runs {how_many(fact.count, 'containers', 'container')} (`{fact.evidence}`): "
            f"in-memory conversation state is split between them")


def _fix(fact: ScalingFact) -> str:
    return ("Add a shared store service (e.g. `redis:7`) and keep each session's history there, restoring it "
            "on every request, so any replica can serve any turn")


@rule(code="AD404", name="compose-replicas", severity=Severity.INFO,
      summary="Compose service runs several replicas")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {COMPOSE_REPLICAS}, "AD404", Severity.INFO, _message, _fix)
