"""Where a path read from an environment variable lands, by the deployment files that set it.

`os.environ.get("HISTORY_DIR", "./history")` means whatever the container's `env:` (Kubernetes)
or `environment:` (compose) says. Set to a folder under an `emptyDir` or `tmpfs` mount, to `/tmp`,
or to a folder no volume covers (the container's own writable layer), the files are gone with
the pod and not shared by replicas: `EPHEMERAL`. Under a PersistentVolumeClaim, a claim template,
a host or network volume, or a named/bind compose volume: `PERSISTENT`, and the AD3 rules say
nothing about that write.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from autogen_doctor.scan.deploy.facts import MOUNT_EMPTYDIR, MOUNT_TMPFS, ContainerFacts, Mount, SetEnv
from autogen_doctor.scan.findings import Step

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project

EPHEMERAL = "ephemeral"
PERSISTENT = "persistent"
_TMP = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass(frozen=True)
class EnvPlacement:
    """One deployment's answer for one env var: where its path lands and why."""

    verdict: str  # EPHEMERAL or PERSISTENT
    setting: SetEnv
    container: ContainerFacts
    manifest: str  # display path of the file that sets it
    mount: Mount | None
    why: str  # "on emptyDir volume 'history' mounted at /app/history"

    def describe(self) -> str:
        """"`$HISTORY_DIR`, which Deployment 'chat' (container 'api') sets to `/app/history`
        (deploy/chat.yaml:14): ...". """
        return (f"`${self.setting.name}`, which {self.container.owner} sets to `{self.setting.value}` "
                f"({self.manifest}:{self.setting.position.line}), {self.why}")

    def steps(self) -> tuple[Step, ...]:
        """Trace steps at the manifest: where the variable is set, and the mount."""
        found = [Step(self.manifest, self.setting.position.line, f"sets {self.setting.name}={self.setting.value}")]
        if self.mount is not None and self.mount.position.line != self.setting.position.line:
            found.append(Step(self.manifest, self.mount.position.line,
                              f"mounts {self.mount.kind} '{self.mount.volume}' at {self.mount.path}"))
        return tuple(found)


def _under(path: str, folder: str) -> bool:
    folder = posixpath.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def place(value: str, mounts: Iterable[Mount]) -> tuple[str, Mount | None, str] | None:
    """(verdict, the mount it lands on, why) for a path value set in a container; None when the
    value is not a plain path (a URL, an unresolved `${VAR}`)."""
    value = value.strip()
    if not value or "://" in value or "$" in value or value == ":memory:":
        return None
    if not value.startswith("/"):
        return EPHEMERAL, None, "relative to the container's working directory, on its own disk"
    path = posixpath.normpath(value)
    covering = [mount for mount in mounts if _under(path, mount.path)]
    if covering:
        mount = max(covering, key=lambda item: len(item.path))
        if mount.kind == MOUNT_EMPTYDIR:
            return EPHEMERAL, mount, f"on emptyDir volume '{mount.volume}' mounted at {mount.path}"
        if mount.kind == MOUNT_TMPFS:
            return EPHEMERAL, mount, f"on a tmpfs mounted at {mount.path}"
        return PERSISTENT, mount, f"on volume '{mount.volume}' mounted at {mount.path}"
    if any(_under(path, prefix) for prefix in _TMP):
        return EPHEMERAL, None, "temporary storage local to the container"
    return EPHEMERAL, None, "where no volume is mounted: the container's own disk"


def has_env(project: "Project") -> bool:
    """True when any container or compose service in the project sets an environment variable."""
    return any(container.env for deploy_file in project.deploy_files
               for container in getattr(deploy_file, "containers", ()))


def env_placement(project: "Project", names: Iterable[str]) -> EnvPlacement | None:
    """Where the first of `names` that a deployment sets lands: an ephemeral placement if any
    container puts it on ephemeral storage, else a persistent one; None when no deployment file
    sets any of them to a plain path (the code's default decides then)."""
    wanted = list(names)
    for name in wanted:
        ephemeral: EnvPlacement | None = None
        persistent: EnvPlacement | None = None
        for deploy_file in project.deploy_files:
            for container in getattr(deploy_file, "containers", ()):
                for setting in container.env:
                    if setting.name != name:
                        continue
                    placed = place(setting.value, container.mounts)
                    if placed is None:
                        continue
                    verdict, mount, why = placed
                    found = EnvPlacement(verdict, setting, container, deploy_file.display_path, mount, why)
                    if verdict == EPHEMERAL and ephemeral is None:
                        ephemeral = found
                    elif verdict == PERSISTENT and persistent is None:
                        persistent = found
        if ephemeral is not None or persistent is not None:
            return ephemeral or persistent
    return None
