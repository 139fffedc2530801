"""## What it does
Finds deployment files that start the web server as several worker processes:
`uvicorn --workers N`, `gunicorn -w N` / `--workers=N`, `hypercorn --workers N`,
`granian --workers N`, `uwsgi --processes N`, `fastapi run --workers N`, `workers = ...` in a
gunicorn config file (`multiprocessing.cpu_count() * 2 + 1` counts as several), and
`WEB_CONCURRENCY` (read by uvicorn and gunicorn) or `GUNICORN_CMD_ARGS` set above 1. Commands
are read in Dockerfile `CMD`/`ENTRYPOINT`, Kubernetes `command`/`args`, compose
`command`/`entrypoint`, Procfiles, supervisor `command=` and container start scripts
(`docker-entrypoint.sh`, `start.sh`, ...).

Silent on `--workers 1`, on `--reload` development servers, and on counts that cannot be read
from the files (`--workers $WORKERS` with no value or default for `WORKERS` anywhere in the file).

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors, because several workers are what turns in-process state into lost memory.

## Why is this bad?
Each worker is its own Python process with its own memory. A conversation kept in a module-level
dict or an agent object lives in the worker that served the turn; the next turn is served by
whichever worker accepts the connection, which has never seen that conversation. The agent
answers as if the user had said nothing before, and nothing in the logs says so.

## Example
```dockerfile
FROM python:3.11-slim
CMD ["uvicorn", "chat.app:app", "--host", "0.0.0.0", "--workers", "4"]
```

## Use instead
Keep the conversation outside the process: save the team's or agent's state per session in a
store every worker shares and restore it at the start of each request.

```python
state = await redis.get(f"chat:{session_id}")
team = build_team()
if state:
    await team.load_state(json.loads(state))
result = await team.run(task=message)
await redis.set(f"chat:{session_id}", json.dumps(await team.save_state()))
```

Running a single worker (`--workers 1`) only hides the problem until the service restarts or
gets a second replica.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import SERVER_WORKERS, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    server = fact.server or "the web server"
    return (f"{fact.owner} runs {server} as {how_many(fact.count, 'worker processes', 'worker process')} "
            f"(`{fact.evidence}`): in-process conversation state is split between them")


def _fix(fact: ScalingFact) -> str:
    return ("Keep each session's history in a shared store (Redis, a database) and restore it on every "
            "request (AgentChat: `await team.load_state(state)` before `run`, `await team.save_state()` "
            "after); `--workers 1` only hides the split until a restart or a second replica")


@rule(code="AD401", name="server-workers", severity=Severity.INFO,
      summary="Web server started with several worker processes")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {SERVER_WORKERS}, "AD401", Severity.INFO, _message, _fix)
