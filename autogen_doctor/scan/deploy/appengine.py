"""Google App Engine `app.yaml`: instance scaling and the `entrypoint` command.

A document is an App Engine config when it has a top-level `runtime:` and at least one App Engine
key (`entrypoint`, `handlers`, `instance_class`, `automatic_scaling`, `manual_scaling`,
`basic_scaling`, `env`). With no scaling section App Engine scales automatically, so the service
runs on as many instances as load asks for unless a ceiling of 1 is written down.
"""

from __future__ import annotations

import yaml

from autogen_doctor.scan.deploy import yamlnodes as Y
from autogen_doctor.scan.deploy.commands import launches_in_shell, scope_facts
from autogen_doctor.scan.deploy.facts import (
    PLATFORM_INSTANCES,
    LineIndex,
    ProcessCount,
    ScalingFact,
)

_APP_ENGINE_KEYS = frozenset({"entrypoint", "handlers", "instance_class", "automatic_scaling", "manual_scaling",
                              "basic_scaling", "env", "runtime_config"})


def is_app_engine(node: yaml.Node) -> bool:
    keys = {key for key, _, _ in Y.items(node)}
    return "runtime" in keys and bool(keys & _APP_ENGINE_KEYS) and Y.scalar(Y.get(node, "runtime")) is not None


def _int(node: yaml.Node | None) -> int | None:
    text = (Y.scalar(node) or "").strip()
    return int(text) if text.isdigit() else None


def read_app_engine(documents: list[Y.Document], text: str, lines: LineIndex) -> list[ScalingFact]:
    """Scaling facts of the App Engine documents of one file."""
    facts: list[ScalingFact] = []
    for document in documents:
        node = document.node
        service = Y.scalar(Y.get(node, "service")) or "default"
        owner = f"App Engine service '{service}'"

        def fact(count: ProcessCount, evidence: str, anchor: yaml.Node) -> None:
            start = Y.start(anchor, document)
            facts.append(ScalingFact(PLATFORM_INSTANCES, count, evidence, owner, service,
                                     lines.position(start, Y.end(anchor, document) - start)))

        manual = Y.get(node, "manual_scaling", "instances")
        basic = Y.get(node, "basic_scaling", "max_instances")
        automatic = Y.get(node, "automatic_scaling")
        if manual is not None:
            count = _int(manual)
            if count is not None and count > 1:
                fact(ProcessCount(count, str(count)), f"manual_scaling.instances: {count}", manual)
        elif basic is not None:
            count = _int(basic)
            if count is not None and count > 1:
                fact(ProcessCount(count, f"up to {count}"), f"basic_scaling.max_instances: {count}", basic)
        else:
            ceiling = Y.get(automatic, "max_instances")
            count = _int(ceiling) if ceiling is not None else None
            if ceiling is not None and count is not None and count > 1:
                fact(ProcessCount(count, f"up to {count}"), f"automatic_scaling.max_instances: {count}", ceiling)
            elif ceiling is None:
                anchor = automatic if automatic is not None else (Y.get(node, "runtime") or node)
                fact(ProcessCount(None, "a load-dependent number of"),
                     "automatic scaling with no max_instances", anchor)
        entrypoint = Y.get(node, "entrypoint")
        if isinstance(entrypoint, yaml.ScalarNode) and Y.scalar(entrypoint):
            launches = launches_in_shell(entrypoint.value, text, Y.start(entrypoint, document),
                                         Y.end(entrypoint, document), {})
            facts.extend(scope_facts(launches, {}, (), owner=f"{owner} entrypoint", symbol=service, lines=lines))
    return facts
