"""## What it does
Finds Kubernetes workloads that run more than one pod: `spec.replicas` above 1 in a Deployment,
StatefulSet, ReplicaSet, ReplicationController, Argo Rollout or OpenShift DeploymentConfig, and
a kustomize `replicas:` override with `count` above 1, and `replicaCount` above 1 in a Helm
chart's `values*.yaml` (top level or one level down, unless that section's autoscaling is
enabled: AD403 covers it then). A missing `spec.replicas` means one pod
and stays silent, as does `replicas: 1` (an autoscaler is AD403), and so do workloads whose
containers all run store, proxy or observability images (`redis`, `postgres`, `nginx`, ...). Helm templates are not YAML
until rendered: run `helm template` and scan the output.

This rule is context (severity info): it raises AD1 and AD3 findings in the same project to
errors.

## Why is this bad?
Every pod is a separate process on a separate machine. The Service in front of them sends each
request to any ready pod, so the turns of one conversation land on different pods; a history
kept in one pod's memory or local disk is missing on the others, and it is gone when the pod is
rescheduled.

## Example
```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
spec:
  replicas: 3
```

## Use instead
Keep the conversation in a store all pods share (Redis, Postgres, a managed database), keyed by
session id, and restore it into the agent on every request. Session affinity
(`sessionAffinity: ClientIP`, sticky cookies) only narrows the window: pods still restart,
drain and scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from autogen_doctor.scan.deploy.facts import KUBERNETES_REPLICAS, ScalingFact
from autogen_doctor.scan.deploy.rulekit import how_many, scaling_findings
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project


def _message(fact: ScalingFact) -> str:
    return (f"{fact.owner} runs {how_many(fact.count, 'pods', 'pod')} (`{fact.evidence}`): each pod has its "
            f"own memory, and the Service spreads a conversation's turns across them")


def _fix(fact: ScalingFact) -> str:
    return ("Store conversation state in a service every pod reaches (Redis, Postgres) keyed by session id "
            "and restore it per request; sticky sessions do not survive pod restarts or rescheduling")


@rule(code="AD402", name="kubernetes-replicas", severity=Severity.INFO,
      summary="Kubernetes workload runs several replicas")
def check(project: "Project") -> Iterator[Finding]:
    yield from scaling_findings(project, {KUBERNETES_REPLICAS}, "AD402", Severity.INFO, _message, _fix)
