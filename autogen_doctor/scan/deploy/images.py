"""Facts that need two deployment files at once: Kubernetes `args` (no `command`) and compose
`command` (no `entrypoint`) run inside the image's ENTRYPOINT, which the Dockerfile defines.

Kubernetes: `args` replace the image's CMD and keep its ENTRYPOINT; `command` replaces the
ENTRYPOINT and drops CMD. Compose and `docker run` do the same with `command` / `entrypoint`.
So `ENTRYPOINT ["uvicorn", "app:api"]` with `args: ["--workers", "4"]` runs four workers, which
neither file says alone. The joined facts are added to the project once, as DeployFiles of kind
`LINKED` that point at the manifest's lines.

Which Dockerfile builds the image: a compose service's `build:`; for Kubernetes, the Dockerfile
whose folder or suffix (`Dockerfile.chat`) is the image's name, else the only Dockerfile in the
tree. With none, `args` are read alone (the per-file parse already does that), else nothing.
"""

from __future__ import annotations

import posixpath
from bisect import bisect_right
from typing import TYPE_CHECKING

from autogen_doctor.scan.deploy.commands import EnvVar, Word, launches_in_words
from autogen_doctor.scan.deploy.facts import DOCKERFILE, ContainerFacts, DeployFile, ImageCommand, ScalingFact
from autogen_doctor.scan.deploy.names import is_infrastructure_image

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project

LINKED = "linked"


def _image_name(image: str) -> str:
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()


def _dockerfile_names(display_path: str) -> set[str]:
    """Names an image built from this Dockerfile is likely to have: its folder, its suffix."""
    folder, file_name = posixpath.split(display_path.replace("\\", "/"))
    names = {posixpath.basename(folder).lower()} if folder else set()
    lower = file_name.lower()
    for prefix in ("dockerfile.", "dockerfile-", "dockerfile_", "containerfile.", "containerfile-"):
        if lower.startswith(prefix):
            names.add(lower[len(prefix):])
    if lower.endswith((".dockerfile", ".containerfile")):
        names.add(lower.rsplit(".", 1)[0])
    return names - {"", "."}


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def dockerfile_for(deploy_file: DeployFile, container: ContainerFacts,
                   dockerfiles: list[DeployFile]) -> DeployFile | None:
    """The Dockerfile in the tree that builds `container`'s image, or None when none is known to."""
    if container.build is not None:
        wanted = _norm(posixpath.join(posixpath.dirname(deploy_file.display_path.replace("\\", "/")), container.build))
        for candidate in dockerfiles:
            if _norm(candidate.display_path) == wanted:
                return candidate
        return None
    if not container.image or is_infrastructure_image(container.image):
        return None
    name = _image_name(container.image)
    named = [candidate for candidate in dockerfiles if name in _dockerfile_names(candidate.display_path)]
    if len(named) == 1:
        return named[0]
    return dockerfiles[0] if len(dockerfiles) == 1 and not named else None


def joined_facts(deploy_file: DeployFile, container: ContainerFacts, image: ImageCommand,
                 dockerfile_path: str) -> list[ScalingFact]:
    """Scaling facts of the image's ENTRYPOINT run with the container's arguments, for launches
    whose process count is set by those arguments (the Dockerfile reports its own)."""
    entrypoint = image.entrypoint
    if len(entrypoint) == 3 and entrypoint[:2] == ("/bin/sh", "-c"):
        return []  # a shell-form ENTRYPOINT ignores CMD, `args` and `command`
    words = [Word(text, -1) for text in entrypoint]
    starts, positions, source = [], [], ""
    for text, position in container.args:
        words.append(Word(text, len(source)))
        starts.append(len(source))
        positions.append(position)
        source += text + "\n"
    env = {key: EnvVar(value, -1) for key, value in image.env}
    env.update({setting.name: EnvVar(setting.value, -1) for setting in container.env})
    already = {(fact.concept, fact.position.line) for fact in deploy_file.scaling}
    facts = []
    for launch in launches_in_words(words, source, len(source), env):
        if launch.offset < 0 or launch.count is None or not launch.count.several or launch.dev_reload:
            continue
        position = positions[max(0, bisect_right(starts, launch.offset) - 1)]
        if (launch.concept, position.line) in already:
            continue
        facts.append(ScalingFact(launch.concept, launch.count, launch.evidence,
                                 f"{container.owner} (with the ENTRYPOINT of {dockerfile_path})",
                                 container.symbol or launch.server, position, launch.server))
    return facts


def link_images(project: "Project") -> None:
    """Add the facts found by joining containers' arguments to their image's ENTRYPOINT to
    `project.deploy_files`, once per project."""
    files = project.deploy_files
    if any(deploy_file.kind == LINKED for deploy_file in files):
        return
    dockerfiles = [deploy_file for deploy_file in files if deploy_file.kind == DOCKERFILE]
    added: list[DeployFile] = []
    if dockerfiles:
        for deploy_file in files:
            for container in getattr(deploy_file, "containers", ()):
                if not container.args:
                    continue
                dockerfile = dockerfile_for(deploy_file, container, dockerfiles)
                image = getattr(dockerfile, "image", None)
                if dockerfile is None or image is None:
                    continue
                facts = joined_facts(deploy_file, container, image, dockerfile.display_path)
                if facts:
                    added.append(DeployFile(kind=LINKED, display_path=deploy_file.display_path, scaling=facts))
    files.extend(added or [DeployFile(kind=LINKED, display_path="", note="nothing joined")])
