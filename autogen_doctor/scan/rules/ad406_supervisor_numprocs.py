"""## What it does
Finds supervisord programs that run several copies: `numprocs` above 1 in a `[program:x]` or
`[fcgi-program:x]` section. (Worker counts in the program's `command=` are AD401 and AD405.)

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
Every copy is a separate process, usually behind one socket or load balancer. A conversation kept
in one copy's memory is unknown to the others, which serve the next turn as often as not.

## Example
```ini
[program:chat]
command=uvicorn chat.app:app --port 80%(process_num)02d
process_name=%(program_name)s_%(process_num)02d
numprocs=4
```

## Use instead
Keep each session's history in a store all copies share (Redis, a database) and restore it into
the agent on every request; or run `numprocs=1` if the state is meant to live in one process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import SUPERVISOR_NUMPROCS, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} runs {how_many(fact.count, 'copies', 'copy')} (`{fact.evidence}`): each copy "
            f"keeps its own in-memory conversations")


def _fix(fact: ScalingFact) -> str:
    return ("Keep conversation state in a shared store (Redis, a database) restored per request, "
            "or set `numprocs=1` if the state must live in one process")


@rule(code="AD406", name="supervisor-numprocs", severity=Severity.INFO,
      summary="Supervisor program runs several copies")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {SUPERVISOR_NUMPROCS}, "AD406", Severity.INFO, _message, _fix)
