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
from typing import TYPE_CHECKING, Iterable, Iterator

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
    mount_manifest: str = ""  # the file of the container and its mount, when a ConfigMap elsewhere sets the value
    config_map: str = ""  # the ConfigMap the container takes the value from

    def describe(self) -> str:
        """"`$HISTORY_DIR`, which Deployment 'chat' (container 'api') sets to `/app/history`
        (deploy/chat.yaml:14): ...". """
        how = f"takes from ConfigMap '{self.config_map}' as" if self.config_map else "sets to"
        return (f"`${self.setting.name}`, which {self.container.owner} {how} `{self.setting.value}` "
                f"({self.manifest}:{self.setting.position.line}), {self.why}")

    def steps(self) -> tuple[Step, ...]:
        """Trace steps at the manifest: where the variable is set, and the mount."""
        found = [Step(self.manifest, self.setting.position.line, f"sets {self.setting.name}={self.setting.value}")]
        mount_file = self.mount_manifest or self.manifest
        if self.mount is not None and (mount_file, self.mount.position.line) != (self.manifest, self.setting.position.line):
            found.append(Step(mount_file, self.mount.position.line,
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
    return any(container.env or getattr(container, "env_from", ()) for deploy_file in project.deploy_files
               for container in getattr(deploy_file, "containers", ()))


def _config_maps(project: "Project") -> dict[str, tuple[str, dict[str, SetEnv]]]:
    """Every ConfigMap of the project by name: (the file that holds it, its keys)."""
    found: dict[str, tuple[str, dict[str, SetEnv]]] = {}
    for deploy_file in project.deploy_files:
        for config_map in getattr(deploy_file, "config_maps", ()):
            found.setdefault(config_map.name, (deploy_file.display_path,
                                               {entry.name: entry for entry in config_map.entries}))
    return found


def container_env(container: ContainerFacts, manifest: str,
                  config_maps: dict[str, tuple[str, dict[str, SetEnv]]]) -> Iterator[tuple[SetEnv, str, str]]:
    """The variables a container sets, each with the file that holds its value: its own `env`
    values, then those it takes from ConfigMaps (`valueFrom.configMapKeyRef`, `envFrom`), renamed
    to the variable the container sees and placed at the ConfigMap's line (with the ConfigMap's name)."""
    for setting in container.env:
        yield setting, manifest, ""
    for reference in getattr(container, "env_from", ()):
        source = config_maps.get(reference.config_map)
        if source is None:
            continue  # a ConfigMap made outside this tree (kubectl, Helm): its values are unknown
        map_file, entries = source
        if reference.key:
            entry = entries.get(reference.key)
            if entry is not None:
                yield SetEnv(reference.name, entry.value, entry.position), map_file, reference.config_map
        else:
            for entry in entries.values():
                yield SetEnv(reference.name + entry.name, entry.value, entry.position), map_file, reference.config_map


def env_placement(project: "Project", names: Iterable[str]) -> EnvPlacement | None:
    """Where the first of `names` that a deployment sets lands: an ephemeral placement if any
    container puts it on ephemeral storage, else a persistent one; None when no deployment file
    sets any of them to a plain path (the code's default decides then)."""
    wanted = list(names)
    config_maps = _config_maps(project)
    for name in wanted:
        ephemeral: EnvPlacement | None = None
        persistent: EnvPlacement | None = None
        for deploy_file in project.deploy_files:
            for container in getattr(deploy_file, "containers", ()):
                for setting, manifest, config_map in container_env(container, deploy_file.display_path, config_maps):
                    if setting.name != name:
                        continue
                    placed = place(setting.value, container.mounts)
                    if placed is None:
                        continue
                    verdict, mount, why = placed
                    found = EnvPlacement(verdict, setting, container, manifest, mount, why,
                                         mount_manifest=deploy_file.display_path, config_map=config_map)
                    if verdict == EPHEMERAL and ephemeral is None:
                        ephemeral = found
                    elif verdict == PERSISTENT and persistent is None:
                        persistent = found
        if ephemeral is not None or persistent is not None:
            return ephemeral or persistent
    return None
