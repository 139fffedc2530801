"""The whole scanned project as the rules see it: every module's facts and every deployment
file's facts, with cross-module references resolved once, here, before any rule runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autogen_doctor.scan.deploy.facts import DeployFile
    from autogen_doctor.scan.facts import ModuleFacts


@dataclass
class Project:
    roots: list[Path]
    # Python modules by dotted module name (facts built by autogen_doctor.scan.facts).
    modules: dict[str, "ModuleFacts"] = field(default_factory=dict)
    # Dockerfiles, Kubernetes manifests, compose files, Procfiles, gunicorn/supervisor configs.
    deploy_files: list["DeployFile"] = field(default_factory=list)
    # Cross-module resolution and entry points, built once on first use by the Python rules
    # (autogen_doctor.scan.rules._support.analysis).
    analysis: Any = field(default=None, repr=False, compare=False)
