"""What the deployment-file rules need to know, as plain picklable data.

A parser turns one file into a `DeployFile`: the places where the file makes the service run as
several processes or replicas (`ScalingFact`) and the places where it gives the service storage
that vanishes on restart (`EphemeralMount`). Every fact carries the 1-based line and column of the
token a finding should point at, and that line's text.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

# Kinds of deployment file (DeployFile.kind).
DOCKERFILE = "dockerfile"
KUBERNETES = "kubernetes"
COMPOSE = "compose"
PROCFILE = "procfile"
GUNICORN = "gunicorn"
SUPERVISOR = "supervisor"
SCRIPT = "script"  # a container start script (docker-entrypoint.sh, start.sh)
APP_ENGINE = "appengine"
HELM_VALUES = "helm-values"
OTHER = "other"

# Scaling concepts, one rule each (see docs/scan-deploy.md).
SERVER_WORKERS = "server-workers"  # AD401: uvicorn/gunicorn/hypercorn/... worker processes
KUBERNETES_REPLICAS = "kubernetes-replicas"  # AD402
KUBERNETES_AUTOSCALER = "kubernetes-autoscaler"  # AD403: HorizontalPodAutoscaler, KEDA ScaledObject
COMPOSE_REPLICAS = "compose-replicas"  # AD404: deploy.replicas, scale
CELERY_PREFORK = "celery-prefork"  # AD405: celery worker with several pool processes
SUPERVISOR_NUMPROCS = "supervisor-numprocs"  # AD406
PLATFORM_INSTANCES = "platform-instances"  # AD407: App Engine instance scaling

# Ephemeral storage concepts.
KUBERNETES_EMPTYDIR = "kubernetes-emptydir"  # AD350
COMPOSE_TMPFS = "compose-tmpfs"  # AD351


@dataclass(frozen=True, slots=True)
class ProcessCount:
    """How many processes or replicas: `value` is exact, or None when it is several but depends
    on the machine (CPU count) or on load (an autoscaler's ceiling is in `value` then)."""

    value: int | None
    label: str  # as a person would say it: "4", "one per CPU", "4 (default of $WORKERS)"

    @property
    def several(self) -> bool:
        return self.value is None or self.value > 1


@dataclass(frozen=True, slots=True)
class Position:
    """Where a finding points: 1-based line and column, and that line's text (stripped).
    `end_column` (exclusive, 1-based) is set when the token's extent on the line is known."""

    line: int
    column: int
    context: str
    end_column: int | None = None


@dataclass(frozen=True, slots=True)
class ScalingFact:
    """One place where the file runs the service as several processes or replicas."""

    concept: str  # SERVER_WORKERS, KUBERNETES_REPLICAS, ...
    count: ProcessCount
    evidence: str  # short, as written: "uvicorn --workers 4", "replicas: 3"
    owner: str  # what runs it: "Dockerfile CMD", "Deployment chat", "compose service web"
    symbol: str | None  # the named thing: Deployment / service / program / server name
    position: Position
    server: str | None = None  # uvicorn, gunicorn, hypercorn, celery, ... when a command says so


@dataclass(frozen=True, slots=True)
class EphemeralMount:
    """One writable mount whose files vanish when the container or pod goes away."""

    concept: str  # KUBERNETES_EMPTYDIR or COMPOSE_TMPFS
    volume: str  # volume name (Kubernetes) or the mount target (compose tmpfs)
    mount_path: str
    container: str  # container or compose service that writes to it
    owner: str  # "Deployment chat", "compose service web"
    symbol: str | None
    position: Position
    medium: str = ""  # "Memory" for emptyDir.medium: Memory


# What backs a container's mount (Mount.kind).
MOUNT_EMPTYDIR = "emptyDir"  # Kubernetes emptyDir or generic ephemeral volume: gone with the pod
MOUNT_TMPFS = "tmpfs"  # compose tmpfs: memory, gone with the container
MOUNT_PERSISTENT = "persistent"  # PVC, volumeClaimTemplate, hostPath, NFS, named or bind volume
MOUNT_OTHER = "other"  # configMap, secret, projected, ...: not where state is written


@dataclass(frozen=True, slots=True)
class Mount:
    """One volume mounted into a container: where, what backs it, and the line of the mount."""

    path: str
    kind: str  # MOUNT_EMPTYDIR, MOUNT_TMPFS, MOUNT_PERSISTENT, MOUNT_OTHER
    volume: str
    position: Position


@dataclass(frozen=True, slots=True)
class SetEnv:
    """An environment variable a container or compose service sets, and the line that sets it."""

    name: str
    value: str
    position: Position


@dataclass(frozen=True, slots=True)
class EnvFromConfigMap:
    """A container variable whose value lives in a ConfigMap: `valueFrom.configMapKeyRef` (one
    key, `name` is the variable) or `envFrom.configMapRef` (every key, `key` is "" and `name`
    is the optional prefix)."""

    name: str
    config_map: str
    key: str
    position: Position


@dataclass(frozen=True, slots=True)
class ConfigMapData:
    """A ConfigMap's `data`, each key with the line that sets it."""

    name: str
    entries: tuple[SetEnv, ...]


@dataclass(frozen=True, slots=True)
class ContainerFacts:
    """One Kubernetes container or compose service: its environment and mounts (to tell where a
    path read from an env var lands), and the arguments that run inside the image's ENTRYPOINT.

    `args` are Kubernetes `args` with no `command`, or a compose `command` with no `entrypoint`;
    each word with the position of the YAML item that holds it. `build` is the display path of the
    Dockerfile a compose service builds from, when it names one."""

    owner: str  # "Deployment 'chat' (container 'api')", "compose service 'web'"
    symbol: str | None
    image: str
    env: tuple[SetEnv, ...] = ()
    mounts: tuple[Mount, ...] = ()
    args: tuple[tuple[str, Position], ...] = ()
    build: str | None = None
    env_from: tuple[EnvFromConfigMap, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageCommand:
    """A Dockerfile final stage's ENTRYPOINT in exec form (what `args`/`command` run inside) and
    its ENV, as plain strings."""

    entrypoint: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class DeployFile:
    """One parsed deployment file. Picklable: the engine caches it by content."""

    kind: str
    display_path: str
    scaling: list[ScalingFact] = field(default_factory=list)
    ephemeral: list[EphemeralMount] = field(default_factory=list)
    # Why a YAML file was set aside without facts ("helm template", "not Kubernetes or compose").
    note: str = ""
    containers: list[ContainerFacts] = field(default_factory=list)
    image: ImageCommand | None = None  # Dockerfiles: the final stage's exec-form ENTRYPOINT
    config_maps: list[ConfigMapData] = field(default_factory=list)  # Kubernetes ConfigMaps


class DeployParseError(Exception):
    """A deployment file that cannot be parsed; str(error) is one line and names the line."""


class LineIndex:
    """Turns character offsets into 1-based (line, column) and gives a line's text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        newline = text.find("\n")
        while newline >= 0:
            self.starts.append(newline + 1)
            newline = text.find("\n", newline + 1)

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, max(0, offset))

    def position(self, offset: int, length: int = 0) -> Position:
        line = self.line_of(offset)
        start = self.starts[line - 1]
        column = offset - start + 1
        end_column = None
        if length > 0 and "\n" not in self.text[offset:offset + length]:
            end_column = column + length
        return Position(line=line, column=column, context=self.line_text(line), end_column=end_column)

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self.starts):
            return ""
        start = self.starts[line - 1]
        end = self.text.find("\n", start)
        text = self.text[start:] if end < 0 else self.text[start:end]
        text = text.strip()
        return text if len(text) <= 200 else text[:197] + "..."
