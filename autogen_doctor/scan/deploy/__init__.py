"""Deployment files: which files they are, what they say about processes, replicas and storage.

The engine uses three functions:

- `is_deploy_file(path)`: by name only (cheap, no I/O).
- `parse_deploy_file(path, display_path, text)`: a picklable `DeployFile`, or `DeployParseError`.
- `scaling_evidence(project)`: "Dockerfile:12 uvicorn --workers 4" for every place that runs the
  service as several processes or replicas; non-empty means process-local state will split.

Nothing read here is ever executed: YAML goes through the safe loader's `compose` (nodes only),
gunicorn configs through `ast`, shell lines through `shlex`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autogen_doctor.scan.deploy import yamlnodes
from autogen_doctor.scan.deploy.appengine import is_app_engine, read_app_engine
from autogen_doctor.scan.deploy.compose import is_compose, read_compose
from autogen_doctor.scan.deploy.dockerfile import parse_dockerfile
from autogen_doctor.scan.deploy.facts import (
    APP_ENGINE,
    COMPOSE,
    HELM_VALUES,
    KUBERNETES,
    OTHER,
    DeployFile,
    DeployParseError,
    EphemeralMount,
    LineIndex,
    ScalingFact,
)
from autogen_doctor.scan.deploy.gunicorn_conf import parse_gunicorn_config
from autogen_doctor.scan.deploy.helm_values import is_values_file, read_helm_values
from autogen_doctor.scan.deploy.kubernetes import is_kubernetes, read_kubernetes
from autogen_doctor.scan.deploy.procfile import parse_procfile
from autogen_doctor.scan.deploy.scripts import is_start_script, parse_start_script
from autogen_doctor.scan.deploy.supervisor import parse_supervisor

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project

__all__ = [
    "DeployFile",
    "DeployParseError",
    "EphemeralMount",
    "ScalingFact",
    "is_deploy_file",
    "parse_deploy_file",
    "scaling_evidence",
]

GUNICORN_CONFIG_NAMES = frozenset({"gunicorn.conf.py", "gunicorn_conf.py", "gunicorn_config.py",
                                   "gunicorn.config.py"})
SUPERVISOR_NAMES = frozenset({"supervisord.conf", "supervisor.conf"})
SUPERVISOR_DIRS = frozenset({"supervisor", "supervisord", "supervisor.d", "supervisord.d", "conf.d"})
_CONTAINERFILE_PREFIXES = ("dockerfile", "containerfile")
# `Dockerfile.md`, `dockerfile_utils.py`: documents and code about Dockerfiles, not Dockerfiles.
_NOT_A_DOCKERFILE = frozenset({".py", ".md", ".rst", ".txt", ".json", ".yaml", ".yml", ".sh", ".ps1",
                               ".toml", ".cfg", ".ini", ".html", ".bak", ".orig", ".swp", ".lock", ".pyc"})
_LARGE_YAML = 256 * 1024
_K8S_OR_COMPOSE_KEY = re.compile(r"(?:^|[{,\s])[\"']?(?:apiVersion|services)[\"']?\s*:", re.MULTILINE)


def _is_dockerfile(name: str) -> bool:
    lower = name.lower()
    if lower.endswith((".dockerfile", ".containerfile")):
        return True
    for prefix in _CONTAINERFILE_PREFIXES:
        if lower == prefix:
            return True
        if lower.startswith(prefix) and lower[len(prefix)] in ".-_":
            return Path(lower).suffix not in _NOT_A_DOCKERFILE
    return False


def _is_supervisor(path: Path) -> bool:
    lower = path.name.lower()
    if lower in SUPERVISOR_NAMES:
        return True
    if not lower.endswith((".conf", ".ini")):
        return False
    return any(part.lower() in SUPERVISOR_DIRS for part in path.parts[-3:-1])


def is_deploy_file(path: Path) -> bool:
    """True when `path`'s name says it may be a deployment file (no I/O).

    Dockerfile, Dockerfile.*, Dockerfile-*, *.dockerfile, Containerfile (and the same variants);
    *.yaml / *.yml (Kubernetes, compose, App Engine or Helm values: decided by content and, for
    Helm values, by the name `values*.yaml`); Procfile;
    gunicorn.conf.py, gunicorn_conf.py, gunicorn_config.py, gunicorn.config.py; supervisord.conf,
    supervisor.conf, and *.conf / *.ini inside a supervisor/, supervisord/, supervisor.d/ or conf.d/
    folder; container start scripts: entrypoint.sh, docker-entrypoint.sh, *-entrypoint.sh,
    start.sh, start-*.sh, *-start.sh, boot.sh, serve.sh, server.sh, launch.sh, run-server.sh,
    run-app.sh, run-web.sh, run-worker.sh and the like."""
    name = path.name
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return True
    if lower in GUNICORN_CONFIG_NAMES or lower == "procfile":
        return True
    if lower.endswith(".sh"):
        return is_start_script(name)
    return _is_dockerfile(name) or _is_supervisor(path)


def parse_deploy_file(path: Path, display_path: str, text: str) -> DeployFile:
    """Parse one deployment file into facts; DeployParseError (one line, with a line number
    where there is one) when it cannot be read as what its name says."""
    if "\x00" in text:
        raise DeployParseError("binary file (contains NUL bytes), not a deployment file")
    lower = path.name.lower()
    if lower in GUNICORN_CONFIG_NAMES:
        return parse_gunicorn_config(text, display_path)
    if lower == "procfile":
        return parse_procfile(text, display_path)
    if lower.endswith((".yaml", ".yml")):
        return _parse_yaml(text, display_path, helm_values=is_values_file(path.name))
    if _is_dockerfile(path.name):
        return parse_dockerfile(text, display_path)
    if _is_supervisor(path):
        return parse_supervisor(text, display_path)
    if lower.endswith(".sh") and is_start_script(path.name):
        return parse_start_script(text, display_path)
    return DeployFile(kind=OTHER, display_path=display_path, note="not a deployment file")


def _parse_yaml(text: str, display_path: str, helm_values: bool = False) -> DeployFile:
    if yamlnodes.looks_like_template(text):
        return DeployFile(kind=OTHER, display_path=display_path,
                          note="template (Helm/Jinja): render it (helm template) and scan the output")
    if len(text) > _LARGE_YAML and not helm_values and not _K8S_OR_COMPOSE_KEY.search(text):
        # A big OpenAPI spec or data file: not worth a full parse to learn it is not ours.
        return DeployFile(kind=OTHER, display_path=display_path, note="not Kubernetes or compose")
    try:
        documents = list(yamlnodes.documents(text))
    except DeployParseError:
        if "{{" in text or "{%" in text:  # a template (Helm values, Jinja): not YAML until rendered
            return DeployFile(kind=OTHER, display_path=display_path, note="template: not YAML until rendered")
        raise
    kubernetes, compose, app_engine = [], [], []
    for document in documents:
        if is_kubernetes(document.node):
            kubernetes.append(document)
        elif is_compose(document.node):
            compose.append(document)
        elif is_app_engine(document.node):
            app_engine.append(document)
    if helm_values and not kubernetes and not compose and not app_engine:
        return DeployFile(kind=HELM_VALUES, display_path=display_path,
                          scaling=read_helm_values(documents, LineIndex(text), display_path))
    if not kubernetes and not compose and not app_engine:
        return DeployFile(kind=OTHER, display_path=display_path, note="not Kubernetes, compose or App Engine")
    kind = KUBERNETES if kubernetes else COMPOSE if compose else APP_ENGINE
    result = DeployFile(kind=kind, display_path=display_path)
    lines = LineIndex(text)
    if app_engine:
        result.scaling.extend(read_app_engine(app_engine, text, lines))
    for reader, group in ((read_kubernetes, kubernetes), (read_compose, compose)):
        if group:
            scaling, ephemeral, containers = reader(group, text, lines)
            result.scaling.extend(scaling)
            result.ephemeral.extend(ephemeral)
            result.containers.extend(containers)
    return result


def scaling_evidence(project: "Project") -> list[str]:
    """Human-readable places where the project runs several processes or replicas,
    e.g. "deploy/k8s.yaml:7 replicas: 3"; empty when nothing says so."""
    evidence: list[str] = []
    from autogen_doctor.scan.deploy.images import link_images  # args joined to the image's ENTRYPOINT

    link_images(project)
    for deploy_file in project.deploy_files:
        for fact in getattr(deploy_file, "scaling", ()):
            if fact.count.several:
                evidence.append(f"{deploy_file.display_path}:{fact.position.line} {fact.evidence}")
    return evidence
