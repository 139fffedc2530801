"""Docker Compose files (v2, v3 and the Compose Specification): replicas, commands, tmpfs.

A document is a compose file when it has a top-level `services:` mapping whose entries look like
services (at least one has `image`, `build`, `command`, ... ). `${VAR:-default}` interpolation
uses the default; `${VAR}` alone is unknown (it comes from the shell or `.env` at deploy time).
A service's `command` runs inside the image's ENTRYPOINT; when the service builds from a Dockerfile
in the tree, the project-wide step in `images.py` joins the two.
"""

from __future__ import annotations

import posixpath
import re

import yaml

from autogen_doctor.scan.deploy import yamlnodes as Y
from autogen_doctor.scan.deploy.commands import (
    EnvVar,
    launches_in_shell,
    launches_in_words,
    resolve_count,
    scope_facts,
    split_shell,
)
from autogen_doctor.scan.deploy.facts import (
    COMPOSE_REPLICAS,
    COMPOSE_TMPFS,
    MOUNT_OTHER,
    MOUNT_PERSISTENT,
    MOUNT_TMPFS,
    ContainerFacts,
    EphemeralMount,
    Mount,
    SetEnv,
    LineIndex,
    ScalingFact,
)
from autogen_doctor.scan.deploy.kubernetes import is_infrastructure_image, is_scratch_path, yaml_words

_SERVICE_KEYS = frozenset({
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "deploy",
    "volumes", "depends_on", "scale", "tmpfs", "restart", "networks", "healthcheck", "container_name",
    "working_dir", "labels", "extends", "profiles",
})


def is_compose(node: yaml.Node) -> bool:
    services = Y.get(node, "services")
    if not isinstance(services, yaml.MappingNode):
        return False
    return any(any(key in _SERVICE_KEYS for key, _, _ in Y.items(service)) for _, _, service in Y.items(services))


def _environment(node: yaml.Node | None, document: Y.Document) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    if isinstance(node, yaml.MappingNode):
        for key, key_node, value_node in Y.items(node):
            value = Y.scalar(value_node)
            if value is not None:
                env[key] = EnvVar(value, Y.start(key_node, document))
    for item in Y.sequence(node):
        text = Y.scalar(item)
        if text and "=" in text:
            key, _, value = text.partition("=")
            env[key.strip()] = EnvVar(value.strip(), Y.start(item, document))
    return env


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _interpolated(value: str) -> str:
    """`${HISTORY_DIR:-/data/history}` -> `/data/history` (the default); a `${NAME}` with no default
    comes from the shell or `.env` at deploy time and stays as written."""
    return _INTERPOLATION.sub(lambda match: match.group(2) if match.group(2) is not None else match.group(0), value)


class _Reader:
    def __init__(self, text: str, lines: LineIndex) -> None:
        self.text = text
        self.lines = lines
        self.scaling: list[ScalingFact] = []
        self.ephemeral: list[EphemeralMount] = []
        self.containers: list[ContainerFacts] = []

    def _position(self, node: yaml.Node, document: Y.Document):
        start = Y.start(node, document)
        return self.lines.position(start, Y.end(node, document) - start)

    def read(self, node: yaml.Node, document: Y.Document) -> None:
        for name, _, service in Y.items(Y.get(node, "services")):
            owner = f"compose service '{name}'"
            image = Y.scalar(Y.get(service, "image")) or ""
            if Y.get(service, "build") is not None or not is_infrastructure_image(image):
                self._replicas(service, document, owner, name)  # replicated Redis/nginx split nothing
            env = _environment(Y.get(service, "environment"), document)
            launches = self._launches(service, document, env)
            self.scaling.extend(scope_facts(launches, env, env.keys(), owner=owner, symbol=name, lines=self.lines))
            self._tmpfs(service, document, owner, name)
            self.containers.append(self._container_facts(service, document, owner, name))

    def _container_facts(self, service, document, owner: str, name: str) -> ContainerFacts:
        """Env, mounts and `command` (when no `entrypoint` replaces the image's) of one service."""
        env = [SetEnv(key, _interpolated(entry.value), self.lines.position(entry.offset, len(key)))
               for key, entry in _environment(Y.get(service, "environment"), document).items()]
        mounts: list[Mount] = []
        tmpfs = Y.get(service, "tmpfs")
        for entry in [tmpfs] if isinstance(tmpfs, yaml.ScalarNode) else Y.sequence(tmpfs):
            text = Y.scalar(entry)
            if text:
                path = text.split(":", 1)[0].strip()
                mounts.append(Mount(path, MOUNT_TMPFS, path, self._position(entry, document)))
        for volume in Y.sequence(Y.get(service, "volumes")):
            text = Y.scalar(volume)
            if text is not None:  # short syntax: [SOURCE:]TARGET[:MODE]
                parts = text.split(":")
                if len(parts) == 1:
                    continue  # an anonymous volume: kept across restarts, not across re-creation
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
                kind = MOUNT_OTHER if read_only else MOUNT_PERSISTENT  # named volume or host folder
                mounts.append(Mount(parts[1], kind, parts[0], self._position(volume, document)))
                continue
            target = Y.scalar(Y.get(volume, "target"))
            if not target:
                continue
            kind_text = Y.scalar(Y.get(volume, "type")) or "volume"
            kind = MOUNT_TMPFS if kind_text == "tmpfs" else MOUNT_PERSISTENT if kind_text in ("volume", "bind") \
                else MOUNT_OTHER
            if Y.is_true(Y.get(volume, "read_only")):
                kind = MOUNT_OTHER
            mounts.append(Mount(target, kind, Y.scalar(Y.get(volume, "source")) or target,
                                self._position(volume, document)))
        args: list = []
        command = Y.get(service, "command")
        if Y.get(service, "entrypoint") is None and command is not None:
            if isinstance(command, yaml.ScalarNode) and Y.scalar(command) is not None:
                position = self._position(command, document)
                args = [(word, position) for part in split_shell(command.value) for word in part]
            else:
                args = [(Y.scalar(item), self._position(item, document)) for item in Y.sequence(command)
                        if Y.scalar(item) is not None]
        build = Y.get(service, "build")
        dockerfile = None
        if build is not None:
            context = Y.scalar(build) if isinstance(build, yaml.ScalarNode) else Y.scalar(Y.get(build, "context"))
            name_in_context = Y.scalar(Y.get(build, "dockerfile")) if isinstance(build, yaml.MappingNode) else None
            dockerfile = posixpath.normpath(posixpath.join(context or ".", name_in_context or "Dockerfile"))
        return ContainerFacts(owner, name, Y.scalar(Y.get(service, "image")) or "", tuple(env), tuple(mounts),
                              tuple(args), dockerfile)

    def _replicas(self, service, document, owner, name) -> None:
        for path, label in ((("deploy", "replicas"), "deploy.replicas"), (("scale",), "scale")):
            node = Y.get(service, *path)
            text = Y.scalar(node)
            if node is None or text is None:
                continue
            if path[0] == "deploy" and Y.scalar(Y.get(service, "deploy", "mode")) == "global":
                continue
            count = resolve_count(text, {})
            if count is not None and count.value is not None and count.value > 1:
                self.scaling.append(ScalingFact(COMPOSE_REPLICAS, count, f"{label}: {text}", owner, name,
                                                self._position(node, document)))

    def _launches(self, service, document, env):
        entrypoint, command = Y.get(service, "entrypoint"), Y.get(service, "command")
        if entrypoint is None and isinstance(command, yaml.ScalarNode) and Y.scalar(command) is not None:
            return launches_in_shell(command.value, self.text, Y.start(command, document),
                                     Y.end(command, document), env)
        words = yaml_words(entrypoint, document, self.text) + yaml_words(command, document, self.text)
        return launches_in_words(words, self.text, len(self.text), env) if words else []

    def _tmpfs(self, service, document, owner, name) -> None:
        tmpfs = Y.get(service, "tmpfs")
        entries = [tmpfs] if isinstance(tmpfs, yaml.ScalarNode) else Y.sequence(tmpfs)
        mounts: list[tuple[str, yaml.Node]] = []
        for entry in entries:
            text = Y.scalar(entry)
            if text:
                mounts.append((text.split(":", 1)[0].strip(), entry))
        for volume in Y.sequence(Y.get(service, "volumes")):
            if Y.scalar(Y.get(volume, "type")) == "tmpfs":
                target = Y.scalar(Y.get(volume, "target"))
                if target and not Y.is_true(Y.get(volume, "read_only")):
                    mounts.append((target, volume))
        for path, node in mounts:
            if not is_scratch_path(path):
                self.ephemeral.append(EphemeralMount(COMPOSE_TMPFS, path, path, name, owner, name,
                                                     self._position(node, document)))


def read_compose(documents: list[Y.Document], text: str, lines: LineIndex):
    """Scaling facts and tmpfs mounts of the compose documents of one file."""
    reader = _Reader(text, lines)
    for document in documents:
        reader.read(document.node, document)
    return reader.scaling, reader.ephemeral, reader.containers
