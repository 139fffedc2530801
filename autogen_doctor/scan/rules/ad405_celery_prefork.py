"""## What it does
Finds `celery worker` commands that run several pool processes. Celery's default pool is prefork
with one process per CPU, so a worker with no `--concurrency` counts as several; so do
`-c N` / `--concurrency N` above 1 and `--autoscale MAX,MIN` with MAX above 1. Silent on
`-c 1`, on `--pool solo`, `--pool threads`, `--pool gevent` and `--pool eventlet` (one process),
and on counts that cannot be read from the file.

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
Each prefork child is its own process. A task that keeps a conversation, an agent or a team in a
module-level variable finds it only when the broker happens to hand the next message to the same
child; other children start from nothing, and a restarted child (`max_tasks_per_child`, a crash)
forgets everything.

## Example
```text
worker: celery -A chat.tasks worker --loglevel=info
```

## Use instead
Load the conversation from a shared store at the start of the task and save it at the end:

```python
@app.task
def reply(session_id, message):
    team = build_team()
    asyncio.run(team.load_state(load_state_from_redis(session_id)))
    ...
```
If in-process state is really intended, run one process: `--pool solo` or `--concurrency 1`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import CELERY_PREFORK, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} runs a Celery prefork pool of {how_many(fact.count, 'processes', 'process')} "
            f"(`{fact.evidence}`): tasks of one conversation run in different processes")


def _fix(fact: ScalingFact) -> str:
    return ("Load each conversation from a shared store (Redis, a database) inside the task and save it back; "
            "if in-process state is intended, run one process with `--pool solo` or `--concurrency 1`")


@rule(code="AD405", name="celery-prefork-worker", severity=Severity.INFO,
      summary="Celery worker runs several pool processes")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {CELERY_PREFORK}, "AD405", Severity.INFO, _message, _fix)
