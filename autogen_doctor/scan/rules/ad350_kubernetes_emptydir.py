"""## What it does
Finds Kubernetes `emptyDir` volumes that a long-running container mounts read-write (ordinary
containers and sidecars, i.e. init containers with `restartPolicy: Always`). The finding points at
the volume in `volumes:`.

Silent on read-only mounts (`readOnly: true`), on emptyDirs used only by ordinary init
containers (they run once, to prepare files), and on mounts at scratch, cache and log paths
(`/tmp`, `/var/tmp`, `/run`, `/dev/shm`, `/var/log`, `/var/cache`, `.../.cache`, `.../cache`),
where losing the files is expected. Whether the service writes conversation state to `/tmp` is
for the Python rules (AD3xx) to tell.

## Why is this bad?
An emptyDir lives and dies with the pod. Chat histories, SQLite files or vector stores written
there vanish when the pod is rescheduled, evicted or rolled out, and each replica has its own
empty copy, so a conversation's next turn on another pod finds nothing.

## Example
```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: chat
          image: chat:1.4
          volumeMounts:
            - name: history
              mountPath: /app/history
      volumes:
        - name: history
          emptyDir: {}
```

## Use instead
Keep conversation state in a database or Redis. If the service must write files, mount a
PersistentVolumeClaim (`ReadWriteMany` when several replicas share it):

```yaml
      volumes:
        - name: history
          persistentVolumeClaim:
            claimName: chat-history
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import KUBERNETES_EMPTYDIR, EphemeralMount
from autogen_doctor.scan.deploy.rulekit import mount_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(mount: EphemeralMount) -> str:
    medium = " (in memory)" if mount.medium.lower() == "memory" else ""
    return (f"emptyDir volume '{mount.volume}'{medium} of {mount.owner} is mounted read-write at "
            f"{mount.mount_path} in container '{mount.container}': its files vanish when the pod goes away "
            f"and are not shared between replicas")


def _fix(mount: EphemeralMount) -> str:
    return (f"Keep conversation state in Redis or a database; if files are needed, replace the emptyDir "
            f"'{mount.volume}' with a persistentVolumeClaim (ReadWriteMany when several replicas share it)")


@rule(code="AD350", name="kubernetes-emptydir-state", severity=Severity.WARNING,
      summary="Kubernetes emptyDir volume mounted read-write")
def check(project: "Project") -> Iterator[Finding]:
    yield from mount_findings(project, KUBERNETES_EMPTYDIR, "AD350", Severity.WARNING, _message, _fix)
