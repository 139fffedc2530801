"""Kubernetes manifests: replicas, autoscalers, container commands and emptyDir volumes.

A document is a Kubernetes object when it has both `apiVersion` and `kind`. Workloads with a
`replicas` field (Deployment, StatefulSet, ReplicaSet, ReplicationController, Argo Rollout,
OpenShift DeploymentConfig) run one pod when `spec.replicas` is missing. A `List` is read item by
item; a kustomize `Kustomization`'s `replicas:` overrides count too.
"""

from __future__ import annotations

import posixpath

import yaml

from autogen_doctor.scan.deploy import yamlnodes as Y
from autogen_doctor.scan.deploy.commands import (
    EnvVar,
    Word,
    launches_in_words,
    locate_words,
    scope_facts,
    split_shell,
)
from autogen_doctor.scan.deploy.names import is_infrastructure_image  # noqa: F401 (re-exported)
from autogen_doctor.scan.deploy.facts import (
    KUBERNETES_AUTOSCALER,
    KUBERNETES_EMPTYDIR,
    KUBERNETES_REPLICAS,
    MOUNT_EMPTYDIR,
    MOUNT_OTHER,
    MOUNT_PERSISTENT,
    ConfigMapData,
    ContainerFacts,
    EnvFromConfigMap,
    EphemeralMount,
    Mount,
    SetEnv,
    LineIndex,
    ProcessCount,
    ScalingFact,
)

REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout",
                              "DeploymentConfig"})
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    **{kind: ("spec", "template", "spec") for kind in REPLICATED_KINDS | {"DaemonSet", "Job"}},
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Writable scratch space that is meant to vanish (and that the Python AD3 rules watch anyway).
# Volume sources whose files outlive the pod.
_PERSISTENT_VOLUME_KEYS = frozenset({"persistentVolumeClaim", "hostPath", "nfs", "csi", "awsElasticBlockStore",
                                     "gcePersistentDisk", "azureDisk", "azureFile", "cephfs", "rbd", "glusterfs",
                                     "iscsi", "fc", "cinder", "portworxVolume", "vsphereVolume"})
_SCRATCH_PREFIXES = ("/tmp", "/var/tmp", "/run", "/var/run", "/dev/shm", "/var/log", "/var/cache")


def is_scratch_path(path: str) -> bool:
    """Temporary, cache and log directories: losing their files on restart is expected."""
    normal = posixpath.normpath(path.strip() or "/")
    if any(normal == prefix or normal.startswith(prefix + "/") for prefix in _SCRATCH_PREFIXES):
        return True
    parts = [part.lower() for part in normal.split("/") if part]
    return any(part in (".cache", "cache", "caches", "tmp", "temp", "logs") or part.endswith("-cache")
               or part.endswith("_cache") for part in parts)


def yaml_words(node: yaml.Node | None, document: Y.Document, text: str) -> list[Word]:
    """Command words from a YAML list of strings, or from one string split like a command line."""
    if node is None:
        return []
    if isinstance(node, yaml.ScalarNode):
        if Y.scalar(node) is None:
            return []
        texts = [word for command in split_shell(node.value) for word in command]
        return locate_words(texts, text, Y.start(node, document), Y.end(node, document))
    words: list[Word] = []
    for item in Y.sequence(node):
        value = Y.scalar(item)
        if value is not None:
            words.extend(locate_words([value], text, Y.start(item, document), Y.end(item, document)))
    return words


def is_kubernetes(node: yaml.Node) -> bool:
    return Y.scalar(Y.get(node, "apiVersion")) is not None and Y.scalar(Y.get(node, "kind")) is not None


def _is_knative(node: yaml.Node) -> bool:
    return (Y.scalar(Y.get(node, "apiVersion")) or "").startswith("serving.knative.dev/")


def _int(node: yaml.Node | None) -> int | None:
    text = Y.scalar(node)
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None


class _Reader:
    def __init__(self, text: str, lines: LineIndex) -> None:
        self.text = text
        self.lines = lines
        self.scaling: list[ScalingFact] = []
        self.ephemeral: list[EphemeralMount] = []
        self.containers: list[ContainerFacts] = []
        self.config_maps: list[ConfigMapData] = []
        self._claim_templates: list[str] = []
        self.infrastructure: set[str] = set()

    def position(self, node: yaml.Node, document: Y.Document):
        start = Y.start(node, document)
        return self.lines.position(start, Y.end(node, document) - start)

    def note_infrastructure(self, node: yaml.Node) -> None:
        """Remember workloads whose containers all run infrastructure images (first pass, so
        that an autoscaler written before its target is judged too)."""
        kind = Y.scalar(Y.get(node, "kind")) or ""
        if kind == "List":
            for item in Y.sequence(Y.get(node, "items")):
                if Y.scalar(Y.get(item, "kind")) != "List":  # a List never nests (aliases could loop)
                    self.note_infrastructure(item)
            return
        path = _POD_SPEC_PATHS.get(kind)
        pod = Y.get(node, *path) if path else None
        images = [Y.scalar(Y.get(container, "image")) for container in Y.sequence(Y.get(pod, "containers"))]
        if images and all(image and is_infrastructure_image(image) for image in images):
            self.infrastructure.add(Y.scalar(Y.get(node, "metadata", "name")) or "(unnamed)")

    def read(self, node: yaml.Node, document: Y.Document) -> None:
        kind = Y.scalar(Y.get(node, "kind")) or ""
        if kind == "List":
            for item in Y.sequence(Y.get(node, "items")):
                if is_kubernetes(item) and Y.scalar(Y.get(item, "kind")) != "List":
                    self.read(item, document)
            return
        name = Y.scalar(Y.get(node, "metadata", "name")) or "(unnamed)"
        owner = f"{kind} '{name}'"
        if kind == "ConfigMap":
            self._config_map(node, document, name)
            return
        if kind in REPLICATED_KINDS and name in self.infrastructure:
            pass  # a replicated Redis or nginx does not split the service's memory
        elif kind in REPLICATED_KINDS:
            replicas = Y.get(node, "spec", "replicas")
            count = _int(replicas)
            if replicas is not None and count is not None and count > 1:
                self.scaling.append(ScalingFact(KUBERNETES_REPLICAS, ProcessCount(count, str(count)),
                                                f"replicas: {count}", owner, name,
                                                self.position(replicas, document)))
        elif kind == "HorizontalPodAutoscaler":
            self._autoscaler(node, document, owner, name, "maxReplicas", default=None)
        elif kind == "ScaledObject":
            self._autoscaler(node, document, owner, name, "maxReplicaCount", default=100)
        elif kind == "Service" and _is_knative(node):
            self._knative(node, document, owner, name)
        elif kind == "Kustomization":
            for entry in Y.sequence(Y.get(node, "replicas")):
                target = Y.scalar(Y.get(entry, "name")) or "(unnamed)"
                count_node = Y.get(entry, "count")
                count = _int(count_node)
                if count_node is not None and count is not None and count > 1:
                    self.scaling.append(ScalingFact(
                        KUBERNETES_REPLICAS, ProcessCount(count, str(count)), f"replicas: {target} count: {count}",
                        f"Kustomization replicas override for '{target}'", target,
                        self.position(count_node, document)))
        path = _POD_SPEC_PATHS.get(kind)
        if kind == "Service" and _is_knative(node):
            path = ("spec", "template", "spec")
        if path is not None:
            pod = Y.get(node, *path)
            if pod is not None:
                self._claim_templates = [Y.scalar(Y.get(claim, "metadata", "name")) or ""
                                         for claim in Y.sequence(Y.get(node, "spec", "volumeClaimTemplates"))]
                self._pod(pod, document, owner, name)

    def _knative(self, node, document, owner, name) -> None:
        """Knative / Cloud Run services autoscale on their own: `maxScale` caps them; unset, Cloud
        Run stops at 100 instances and Knative has no limit."""
        annotations = Y.get(node, "spec", "template", "metadata", "annotations")
        for key in ("autoscaling.knative.dev/maxScale", "autoscaling.knative.dev/max-scale"):
            value_node = Y.get(annotations, key)
            if value_node is not None:
                ceiling = _int(value_node)
                if ceiling is not None and ceiling > 1:
                    self.scaling.append(ScalingFact(
                        KUBERNETES_AUTOSCALER, ProcessCount(ceiling, str(ceiling)), f"{key}: {ceiling}",
                        owner, name, self.position(value_node, document)))
                return
        anchor = Y.get(node, "kind") or node
        self.scaling.append(ScalingFact(
            KUBERNETES_AUTOSCALER, ProcessCount(100, "100 (Cloud Run's default; Knative has no limit)"),
            "autoscaling.knative.dev/maxScale not set", owner, name, self.position(anchor, document)))

    def _autoscaler(self, node, document, owner, name, field, default):
        ceiling_node = Y.get(node, "spec", field)
        ceiling = _int(ceiling_node) if ceiling_node is not None else default
        if ceiling is None or ceiling <= 1:
            return
        target_kind = Y.scalar(Y.get(node, "spec", "scaleTargetRef", "kind")) or "Deployment"
        target = Y.scalar(Y.get(node, "spec", "scaleTargetRef", "name")) or "?"
        if target in self.infrastructure:
            return
        written = f"{field}: {ceiling}" if ceiling_node is not None else f"{field} not set (KEDA default {ceiling})"
        anchor = ceiling_node if ceiling_node is not None else (Y.get(node, "kind") or node)
        self.scaling.append(ScalingFact(KUBERNETES_AUTOSCALER, ProcessCount(ceiling, str(ceiling)),
                                        f"{written}, scaling {target_kind} '{target}'", owner, name,
                                        self.position(anchor, document)))

    def _containers(self, pod: yaml.Node) -> list[yaml.Node]:
        """Containers that run for the pod's life: ordinary ones and sidecars (init containers
        with restartPolicy: Always). Ordinary init containers run once and exit."""
        running = list(Y.sequence(Y.get(pod, "containers")))
        for init in Y.sequence(Y.get(pod, "initContainers")):
            if Y.scalar(Y.get(init, "restartPolicy")) == "Always":
                running.append(init)
        return running

    def _pod(self, pod: yaml.Node, document: Y.Document, owner: str, name: str) -> None:
        containers = self._containers(pod)
        for container in containers:
            container_name = Y.scalar(Y.get(container, "name")) or "?"
            env: dict[str, EnvVar] = {}
            for entry in Y.sequence(Y.get(container, "env")):
                key_node, value_node = Y.get(entry, "name"), Y.get(entry, "value")
                key, value = Y.scalar(key_node), Y.scalar(value_node)
                if key is not None and value is not None and key_node is not None:
                    env[key] = EnvVar(value, Y.start(key_node, document))
            words = (yaml_words(Y.get(container, "command"), document, self.text)
                     + yaml_words(Y.get(container, "args"), document, self.text))
            launches = launches_in_words(words, self.text, len(self.text), env) if words else []
            self.scaling.extend(scope_facts(launches, env, env.keys(),
                                            owner=f"{owner} (container '{container_name}')", symbol=name,
                                            lines=self.lines))
            self.containers.append(self._container_facts(pod, container, document,
                                                         f"{owner} (container '{container_name}')", name))
        self._empty_dirs(pod, containers, document, owner, name)

    def _container_facts(self, pod, container, document, owner: str, name: str) -> ContainerFacts:
        """Env, mounts (with what backs each) and `args` without `command`, for the project-wide
        checks that join a deployment to the code and to the image's Dockerfile."""
        env = []
        for entry in Y.sequence(Y.get(container, "env")):
            key_node, value_node = Y.get(entry, "name"), Y.get(entry, "value")
            key, value = Y.scalar(key_node), Y.scalar(value_node)
            if key is not None and value is not None and key_node is not None:
                env.append(SetEnv(key, value, self.position(key_node, document)))
        backing: dict[str, str] = {}
        for volume in Y.sequence(Y.get(pod, "volumes")):
            volume_name = Y.scalar(Y.get(volume, "name"))
            if volume_name is None:
                continue
            keys = {key for key, _, _ in Y.items(volume)}
            if keys & {"emptyDir", "ephemeral"}:
                backing[volume_name] = MOUNT_EMPTYDIR
            elif keys & _PERSISTENT_VOLUME_KEYS:
                backing[volume_name] = MOUNT_PERSISTENT
            else:
                backing[volume_name] = MOUNT_OTHER
        # A StatefulSet's volumeClaimTemplates give every pod its own PersistentVolumeClaim.
        for claim in self._claim_templates:
            backing.setdefault(claim, MOUNT_PERSISTENT)
        mounts = []
        for mount in Y.sequence(Y.get(container, "volumeMounts")):
            volume_name = Y.scalar(Y.get(mount, "name")) or ""
            mount_path = Y.scalar(Y.get(mount, "mountPath"))
            if not mount_path:
                continue
            kind = backing.get(volume_name, MOUNT_OTHER)
            if Y.is_true(Y.get(mount, "readOnly")):
                kind = MOUNT_OTHER
            mounts.append(Mount(mount_path, kind, volume_name, self.position(mount, document)))
        args: list[tuple[str, object]] = []
        args_node = Y.get(container, "args")
        if Y.get(container, "command") is None and args_node is not None:
            for item in Y.sequence(args_node):
                value = Y.scalar(item)
                if value is not None:
                    args.append((value, self.position(item, document)))
        return ContainerFacts(owner, name, Y.scalar(Y.get(container, "image")) or "", tuple(env), tuple(mounts),
                              tuple(args), env_from=self._env_from(container, document))  # type: ignore[arg-type]

    def _env_from(self, container: yaml.Node, document: Y.Document) -> tuple[EnvFromConfigMap, ...]:
        """Variables a container takes from ConfigMaps, to be looked up across the project."""
        found = []
        for entry in Y.sequence(Y.get(container, "env")):
            key_node = Y.get(entry, "name")
            reference = Y.get(entry, "valueFrom", "configMapKeyRef")
            variable, config_map = Y.scalar(key_node), Y.scalar(Y.get(reference, "name"))
            key = Y.scalar(Y.get(reference, "key"))
            if variable and config_map and key and key_node is not None:
                found.append(EnvFromConfigMap(variable, config_map, key, self.position(key_node, document)))
        for entry in Y.sequence(Y.get(container, "envFrom")):
            reference = Y.get(entry, "configMapRef")
            config_map = Y.scalar(Y.get(reference, "name"))
            if config_map and reference is not None:
                prefix = Y.scalar(Y.get(entry, "prefix")) or ""
                found.append(EnvFromConfigMap(prefix, config_map, "", self.position(entry, document)))
        return tuple(found)

    def _config_map(self, node: yaml.Node, document: Y.Document, name: str) -> None:
        entries = []
        for key, key_node, value_node in Y.items(Y.get(node, "data")):
            value = Y.scalar(value_node)
            if key and value is not None:
                entries.append(SetEnv(key, value, self.position(key_node, document)))
        self.config_maps.append(ConfigMapData(name, tuple(entries)))

    def _empty_dirs(self, pod, containers, document, owner, name) -> None:
        volumes: dict[str, tuple[yaml.Node, str]] = {}
        for volume in Y.sequence(Y.get(pod, "volumes")):
            volume_name_node = Y.get(volume, "name")
            volume_name = Y.scalar(volume_name_node)
            empty_dir = Y.get(volume, "emptyDir")
            if volume_name is None or empty_dir is None or volume_name_node is None:
                continue
            volumes[volume_name] = (volume_name_node, Y.scalar(Y.get(empty_dir, "medium")) or "")
        if not volumes:
            return
        writers: dict[str, list[tuple[str, str]]] = {}
        for container in containers:
            container_name = Y.scalar(Y.get(container, "name")) or "?"
            for mount in Y.sequence(Y.get(container, "volumeMounts")):
                volume_name = Y.scalar(Y.get(mount, "name"))
                mount_path = Y.scalar(Y.get(mount, "mountPath")) or ""
                if volume_name not in volumes or Y.is_true(Y.get(mount, "readOnly")):
                    continue
                if is_scratch_path(mount_path):
                    continue
                writers.setdefault(volume_name, []).append((container_name, mount_path))
        for volume_name, mounts in writers.items():
            name_node, medium = volumes[volume_name]
            self.ephemeral.append(EphemeralMount(
                KUBERNETES_EMPTYDIR, volume_name, mounts[0][1], ", ".join(container for container, _ in mounts),
                owner, name, self.position(name_node, document), medium))


def read_kubernetes(documents: list[Y.Document], text: str, lines: LineIndex):
    """Scaling facts and ephemeral mounts of the Kubernetes documents of one file."""
    reader = _Reader(text, lines)
    for document in documents:
        reader.note_infrastructure(document.node)
    for document in documents:
        reader.read(document.node, document)
    return reader.scaling, reader.ephemeral, reader.containers, reader.config_maps
