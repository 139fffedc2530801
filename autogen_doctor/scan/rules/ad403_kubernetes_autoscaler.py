"""## What it does
Finds autoscalers that can add pods: a `HorizontalPodAutoscaler` with `maxReplicas` above 1 and a
KEDA `ScaledObject` whose `maxReplicaCount` is above 1 (KEDA's default, when it is not set, is
100), and a Knative / Cloud Run `Service` whose `autoscaling.knative.dev/maxScale` is above 1 or
unset (Cloud Run's default ceiling is 100; Knative has none), and a Helm chart's values with
`autoscaling.enabled: true` and `autoscaling.maxReplicas` above 1. The finding points at the ceiling,
or at the `kind` when a default applies.

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
Under load the autoscaler starts more pods and the Service sends new turns to them; when load
drops it removes pods and everything they held in memory. A conversation kept in process memory
works in a quiet test and breaks exactly when traffic grows.

## Example
```yaml
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: chat
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: chat}
  minReplicas: 1
  maxReplicas: 10
```

## Use instead
Make the pods stateless: keep each session's history in Redis or a database and restore it into
the agent on every request (`team.load_state(...)`), so that any pod, new or old, can serve any
turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import KUBERNETES_AUTOSCALER, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} can scale up to {how_many(fact.count, 'pods', 'pod')} (`{fact.evidence}`): "
            f"new pods start without the conversations held in the others' memory")


def _fix(fact: ScalingFact) -> str:
    return ("Keep conversation state in a shared store (Redis, Postgres) and restore it per request so any "
            "pod the autoscaler adds can serve any turn")


@rule(code="AD403", name="kubernetes-autoscaler", severity=Severity.INFO,
      summary="Kubernetes autoscaler can add replicas")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {KUBERNETES_AUTOSCALER}, "AD403", Severity.INFO, _message, _fix)
