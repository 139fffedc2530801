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
from typing import TYPE_CHECKING, Any

# The name tests are all discovery needs: they import no parser, so a scan of a tree without
# deployment files (or a warm scan) never loads the parsers or the YAML library.
from autogen_doctor.scan.deploy.names import (
    GUNICORN_CONFIG_NAMES,
    SUPERVISOR_DIRS,  # noqa: F401  (re-exported: it was defined here)
    SUPERVISOR_NAMES,  # noqa: F401
    is_deploy_file,
    is_start_script,
)
from autogen_doctor.scan.deploy.names import is_dockerfile as _is_dockerfile
from autogen_doctor.scan.deploy.names import is_supervisor_config as _is_supervisor

if TYPE_CHECKING:
    from autogen_doctor.scan.deploy.facts import DeployFile, DeployParseError, EphemeralMount, ScalingFact
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

_FACT_NAMES = frozenset({"DeployFile", "DeployParseError", "EphemeralMount", "ScalingFact"})
_LARGE_YAML = 256 * 1024
_K8S_OR_COMPOSE_KEY = re.compile(r"(?:^|[{,\s])[\"']?(?:apiVersion|services)[\"']?\s*:", re.MULTILINE)


def __getattr__(name: str) -> Any:
    """The fact classes, imported on first use (`from autogen_doctor.scan.deploy import DeployFile`)."""
    if name in _FACT_NAMES:
        from autogen_doctor.scan.deploy import facts

        return getattr(facts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_deploy_file(path: Path, display_path: str, text: str) -> DeployFile:
    """Parse one deployment file into facts; DeployParseError (one line, with a line number
    where there is one) when it cannot be read as what its name says."""
    from autogen_doctor.scan.deploy.dockerfile import parse_dockerfile
    from autogen_doctor.scan.deploy.facts import OTHER, DeployFile, DeployParseError
    from autogen_doctor.scan.deploy.gunicorn_conf import parse_gunicorn_config
    from autogen_doctor.scan.deploy.helm_values import is_values_file
    from autogen_doctor.scan.deploy.procfile import parse_procfile
    from autogen_doctor.scan.deploy.scripts import parse_start_script
    from autogen_doctor.scan.deploy.supervisor import parse_supervisor

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
    from autogen_doctor.scan.deploy import yamlnodes
    from autogen_doctor.scan.deploy.appengine import is_app_engine, read_app_engine
    from autogen_doctor.scan.deploy.compose import is_compose, read_compose
    from autogen_doctor.scan.deploy.facts import (
        APP_ENGINE,
        COMPOSE,
        HELM_VALUES,
        KUBERNETES,
        OTHER,
        DeployFile,
        DeployParseError,
        LineIndex,
    )
    from autogen_doctor.scan.deploy.helm_values import read_helm_values
    from autogen_doctor.scan.deploy.kubernetes import is_kubernetes, read_kubernetes

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
    if kubernetes:
        scaling, ephemeral, containers, config_maps = read_kubernetes(kubernetes, text, lines)
        result.scaling.extend(scaling)
        result.ephemeral.extend(ephemeral)
        result.containers.extend(containers)
        result.config_maps.extend(config_maps)
    if compose:
        scaling, ephemeral, containers = read_compose(compose, text, lines)
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
