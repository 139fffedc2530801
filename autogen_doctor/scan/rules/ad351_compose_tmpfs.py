"""## What it does
Finds Docker Compose services that mount a `tmpfs` at an application path: the service-level
`tmpfs:` list and long-syntax `volumes:` entries with `type: tmpfs`. Silent on scratch, cache and
log paths (`/tmp`, `/run`, `/var/cache`, `.../cache`, ...) and on read-only mounts.

## Why is this bad?
A tmpfs lives in the container's memory. Whatever the service writes there (chat histories,
SQLite files, vector stores) is gone when the container stops or is recreated, and each replica
has its own.

## Example
```yaml
services:
  chat:
    build: .
    tmpfs:
      - /app/history
```

## Use instead
Keep conversation state in a database or Redis service, or write files to a named volume:

```yaml
services:
  chat:
    build: .
    volumes:
      - history:/app/history
volumes:
  history:
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import COMPOSE_TMPFS, EphemeralMount
from autogen_doctor.scan.deploy.rulekit import mount_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(mount: EphemeralMount) -> str:
    return (f"{mount.owner} mounts a tmpfs at {mount.mount_path}: files written there live in the "
            f"container's memory and vanish when it stops")


def _fix(mount: EphemeralMount) -> str:
    return (f"Keep conversation state in a database or Redis service, or mount a named volume at "
            f"{mount.mount_path} instead of a tmpfs")


@rule(code="AD351", name="compose-tmpfs-state", severity=Severity.WARNING,
      summary="Compose service writes to a tmpfs mount")
def check(project: "Project") -> Iterator[Finding]:
    yield from mount_findings(project, COMPOSE_TMPFS, "AD351", Severity.WARNING, _message, _fix)
