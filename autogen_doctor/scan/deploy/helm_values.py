"""Helm chart values (`values.yaml`, `values-prod.yaml`, `values.production.yaml`).

Chart templates are not YAML until rendered and are skipped, but the values that feed them are
plain YAML and say how many pods the chart runs. The conventions of `helm create` are read:
`replicaCount`, and `autoscaling.enabled` with `autoscaling.maxReplicas`, at the top level and one
level down (`api.replicaCount` for charts with several components).
"""

from __future__ import annotations

import re

import yaml

from autogen_doctor.scan.deploy import yamlnodes as Y
from autogen_doctor.scan.deploy.facts import (
    KUBERNETES_AUTOSCALER,
    KUBERNETES_REPLICAS,
    LineIndex,
    ProcessCount,
    ScalingFact,
)

VALUES_FILE_NAME = re.compile(r"^values(?:[.-][\w.-]+)?\.ya?ml$", re.IGNORECASE)


def is_values_file(name: str) -> bool:
    return VALUES_FILE_NAME.match(name) is not None


def _int(node: yaml.Node | None) -> int | None:
    text = (Y.scalar(node) or "").strip()
    return int(text) if text.isdigit() else None


def read_helm_values(documents: list[Y.Document], lines: LineIndex, display_path: str) -> list[ScalingFact]:
    """Replica counts and autoscaling settings in a chart's values file."""
    facts: list[ScalingFact] = []

    def position(node: yaml.Node, document: Y.Document):
        start = Y.start(node, document)
        return lines.position(start, Y.end(node, document) - start)

    for document in documents:
        sections: list[tuple[str, yaml.Node]] = [("", document.node)]
        sections += [(key, value) for key, _, value in Y.items(document.node) if isinstance(value, yaml.MappingNode)]
        for prefix, section in sections:
            dotted = f"{prefix}." if prefix else ""
            symbol = prefix or "chart"
            owner = f"Helm values ({symbol})"
            replicas = Y.get(section, "replicaCount")
            count = _int(replicas)
            autoscaling = Y.get(section, "autoscaling")
            autoscaled = Y.is_true(Y.get(autoscaling, "enabled"))
            if replicas is not None and count is not None and count > 1 and not autoscaled:
                facts.append(ScalingFact(KUBERNETES_REPLICAS, ProcessCount(count, str(count)),
                                         f"{dotted}replicaCount: {count}", owner, symbol,
                                         position(replicas, document)))
            if autoscaled:
                ceiling_node = Y.get(autoscaling, "maxReplicas")
                ceiling = _int(ceiling_node)
                if ceiling_node is not None and ceiling is not None and ceiling > 1:
                    facts.append(ScalingFact(KUBERNETES_AUTOSCALER, ProcessCount(ceiling, str(ceiling)),
                                             f"{dotted}autoscaling.maxReplicas: {ceiling} (enabled)", owner, symbol,
                                             position(ceiling_node, document)))
    return facts
