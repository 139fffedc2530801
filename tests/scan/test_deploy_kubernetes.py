"""AD402 / AD403 / AD350 and container commands from Kubernetes manifests written to disk."""

from pathlib import Path

import pytest

from autogen_doctor.scan.deploy import DeployParseError, parse_deploy_file
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.registry import load_rules


def scan(tmp_path: Path, text: str, code: str, name: str = "deploy/app.yaml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    deploy = parse_deploy_file(path, name, path.read_text())
    return list(load_rules()[code].check(Project(roots=[tmp_path], deploy_files=[deploy])))


def deployment(name="chat", replicas="", containers=None, volumes="", kind="Deployment"):
    replicas_line = f"  replicas: {replicas}\n" if replicas != "" else ""
    containers = containers or "        - name: api\n          image: chat:1\n"
    return (f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{replicas_line}"
            f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
            f"    spec:\n      containers:\n{containers}{volumes}")


def test_replicas_above_one_fire_at_the_value(tmp_path):
    text = deployment(replicas=3)
    [finding] = scan(tmp_path, text, "AD402")
    assert finding.path == "deploy/app.yaml" and finding.line == 6
    assert text.splitlines()[5][finding.column - 1:] == "3"
    assert finding.symbol == "chat" and "Deployment 'chat'" in finding.message and "3 pods" in finding.message


def test_statefulset_and_rollout_replicas_fire(tmp_path):
    assert scan(tmp_path, deployment(replicas=2, kind="StatefulSet"), "AD402")
    assert scan(tmp_path, deployment(replicas=2, kind="Rollout").replace("apps/v1", "argoproj.io/v1alpha1"), "AD402")


def test_one_replica_or_missing_replicas_is_silent(tmp_path):
    assert scan(tmp_path, deployment(replicas=1), "AD402") == []
    assert scan(tmp_path, deployment(), "AD402") == []


def test_multi_document_file_reports_each_document_on_its_own_line(tmp_path):
    text = deployment(name="a", replicas=2) + "---\n" + deployment(name="b", replicas=1) + "---\n" + \
        deployment(name="c", replicas=5)
    findings = scan(tmp_path, text, "AD402")
    assert [finding.symbol for finding in findings] == ["a", "c"]
    lines = text.splitlines()
    assert all(lines[finding.line - 1].strip().startswith("replicas:") for finding in findings)


def test_hpa_max_replicas_fires_and_max_one_is_silent(tmp_path):
    hpa = ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: chat\nspec:\n"
           "  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: chat\n"
           "  minReplicas: 1\n  maxReplicas: {n}\n")
    [finding] = scan(tmp_path, hpa.format(n=10), "AD403")
    assert finding.line == 11 and "up to 10 pods" in finding.message and "Deployment 'chat'" in finding.message
    assert scan(tmp_path, hpa.format(n=1), "AD403") == []


def test_keda_scaled_object_default_ceiling_fires(tmp_path):
    text = ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: worker\nspec:\n"
            "  scaleTargetRef:\n    name: worker\n  triggers: []\n")
    [finding] = scan(tmp_path, text, "AD403")
    assert finding.line == 2 and "100" in finding.message
    assert scan(tmp_path, text + "  maxReplicaCount: 1\n", "AD403") == []


def test_container_args_with_env_expansion_fire_ad401(tmp_path):
    containers = ('        - name: api\n          image: chat:1\n          command: ["uvicorn"]\n'
                  '          args: ["app:app", "--workers", "$(WORKERS)"]\n'
                  '          env:\n            - name: WORKERS\n              value: "4"\n')
    [finding] = scan(tmp_path, deployment(containers=containers), "AD401")
    assert finding.line == 16 and "container 'api'" in finding.message and finding.symbol == "chat"


def test_container_shell_block_scalar_fires(tmp_path):
    containers = ('        - name: worker\n          image: chat:1\n          command: ["/bin/sh", "-c"]\n'
                  '          args:\n            - |\n              python manage.py migrate\n'
                  '              exec celery -A chat worker --concurrency 8\n')
    text = deployment(containers=containers)
    [finding] = scan(tmp_path, text, "AD405")
    assert text.splitlines()[finding.line - 1].strip().startswith("exec celery")
    assert "8 processes" in finding.message


def test_container_web_concurrency_env_fires(tmp_path):
    containers = ('        - name: api\n          image: chat:1\n          env:\n'
                  '            - name: WEB_CONCURRENCY\n              value: "3"\n')
    [finding] = scan(tmp_path, deployment(containers=containers), "AD401")
    assert "WEB_CONCURRENCY=3" in finding.message and finding.line == 16


EMPTYDIR_CONTAINERS = ('        - name: api\n          image: chat:1\n          volumeMounts:\n'
                       '            - name: history\n              mountPath: /app/history{read_only}\n')
EMPTYDIR_VOLUMES = "      volumes:\n        - name: history\n          emptyDir: {}\n"


def test_writable_emptydir_fires_at_the_volume(tmp_path):
    text = deployment(replicas=2, containers=EMPTYDIR_CONTAINERS.format(read_only=""), volumes=EMPTYDIR_VOLUMES)
    [finding] = scan(tmp_path, text, "AD350")
    assert finding.severity.value == "warning"
    assert text.splitlines()[finding.line - 1].strip() == "- name: history"
    assert "/app/history" in finding.message and "persistentVolumeClaim" in finding.fix


def test_read_only_emptydir_is_silent(tmp_path):
    containers = EMPTYDIR_CONTAINERS.format(read_only="\n              readOnly: true")
    assert scan(tmp_path, deployment(containers=containers, volumes=EMPTYDIR_VOLUMES), "AD350") == []


def test_emptydir_at_tmp_or_cache_is_silent(tmp_path):
    for mount in ("/tmp", "/tmp/uploads", "/home/app/.cache", "/app/cache", "/var/log/app"):
        containers = EMPTYDIR_CONTAINERS.format(read_only="").replace("/app/history", mount)
        assert scan(tmp_path, deployment(containers=containers, volumes=EMPTYDIR_VOLUMES), "AD350") == [], mount


def test_emptydir_used_only_by_an_init_container_is_silent_but_a_sidecar_counts(tmp_path):
    init = ("      initContainers:\n        - name: seed\n          image: busybox\n{restart}"
            "          volumeMounts:\n            - name: history\n              mountPath: /seed\n")
    plain = deployment(volumes=init.format(restart="") + EMPTYDIR_VOLUMES)
    assert scan(tmp_path, plain, "AD350") == []
    sidecar = deployment(volumes=init.format(restart="          restartPolicy: Always\n") + EMPTYDIR_VOLUMES)
    [finding] = scan(tmp_path, sidecar, "AD350")
    assert "'seed'" in finding.message


def test_persistent_volume_claim_is_silent(tmp_path):
    volumes = "      volumes:\n        - name: history\n          persistentVolumeClaim:\n            claimName: h\n"
    text = deployment(containers=EMPTYDIR_CONTAINERS.format(read_only=""), volumes=volumes)
    assert scan(tmp_path, text, "AD350") == []


def test_cronjob_and_pod_specs_are_read(tmp_path):
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n"
           "      image: x\n      args: [gunicorn, -w, '4', app:app]\n")
    assert scan(tmp_path, pod, "AD401")


def test_list_kind_items_are_read(tmp_path):
    text = ("apiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps/v1\n    kind: Deployment\n"
            "    metadata: {name: listed}\n    spec:\n      replicas: 4\n")
    [finding] = scan(tmp_path, text, "AD402")
    assert finding.symbol == "listed" and finding.line == 8


def test_kustomization_replicas_override_fires(tmp_path):
    text = ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml]\n"
            "replicas:\n  - name: chat\n    count: 3\n")
    [finding] = scan(tmp_path, text, "AD402", name="kustomization.yaml")
    assert finding.line == 6 and finding.symbol == "chat"


def test_yaml_anchors_and_merge_keys_are_followed(tmp_path):
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: m}\nspec:\n  replicas: 1\n  template:\n"
            "    spec:\n      containers:\n        - &base\n          name: a\n          image: x\n"
            "          args: [uvicorn, app:app, --workers, '2']\n        - <<: *base\n          name: b\n")
    findings = scan(tmp_path, text, "AD401")
    assert len(findings) == 2


def test_broken_yaml_raises_with_the_line_number(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n bad: [1,\n")
    with pytest.raises(DeployParseError, match=r"line [56]"):
        parse_deploy_file(path, "broken.yaml", path.read_text())


def test_broken_document_after_a_good_one_reports_its_own_line(tmp_path):
    text = deployment(replicas=2) + "---\nkind: Service\nmetadata: {name: [x\n"
    path = tmp_path / "two.yaml"
    path.write_text(text)
    expected = text.count("\n", 0, text.index("---")) + 3
    with pytest.raises(DeployParseError) as error:
        parse_deploy_file(path, "two.yaml", text)
    assert f"line {expected}" in str(error.value) or f"line {expected + 1}" in str(error.value)


def test_helm_template_is_skipped_quietly(tmp_path):
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"chat.fullname\" . }}\n"
            "spec:\n  replicas: {{ .Values.replicaCount }}\n")
    path = tmp_path / "templates" / "deployment.yaml"
    path.parent.mkdir()
    path.write_text(text)
    deploy = parse_deploy_file(path, "templates/deployment.yaml", text)
    assert deploy.kind == "other" and not deploy.scaling and "template" in deploy.note


def test_replicated_infrastructure_images_are_not_scaling_evidence(tmp_path):
    proxy = deployment(name="proxy", replicas=3, containers="        - name: nginx\n          image: nginx:1.25\n")
    hpa = ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: proxy}\nspec:\n"
           "  scaleTargetRef: {kind: Deployment, name: proxy}\n  maxReplicas: 4\n---\n")
    text = hpa + proxy + "---\n" + deployment(name="chat", replicas=2)
    assert [finding.symbol for finding in scan(tmp_path, text, "AD402")] == ["chat"]
    assert scan(tmp_path, text, "AD403") == []


def test_redis_with_an_emptydir_still_fires_ad350(tmp_path):
    containers = ("        - name: redis\n          image: redis:7\n          volumeMounts:\n"
                  "            - name: history\n              mountPath: /data\n")
    [finding] = scan(tmp_path, deployment(name="redis", containers=containers, volumes=EMPTYDIR_VOLUMES), "AD350")
    assert finding.symbol == "redis"


def test_template_text_inside_values_does_not_hide_the_manifest(tmp_path):
    alerts = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: alerts}\ndata:\n  rules.yml: |\n"
              "    summary: \"{{ $labels.instance }} is down\"\n---\n")
    [finding] = scan(tmp_path, alerts + deployment(replicas=2), "AD402")
    assert finding.symbol == "chat"


def test_helm_template_whose_actions_break_yaml_is_skipped(tmp_path):
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chat\nspec:\n"
            "  replicas: {{ .Values.replicas | default 3 }}\n  selector: {{ toYaml .Values.selector }}\n")
    path = tmp_path / "deployment.yaml"
    path.write_text(text)
    deploy = parse_deploy_file(path, "deployment.yaml", text)
    assert deploy.kind in ("other", "kubernetes") and deploy.scaling == []


KNATIVE = ("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: chat\nspec:\n  template:\n"
           "    metadata:\n      annotations:\n{annotations}    spec:\n      containers:\n        - image: chat\n")


def test_knative_or_cloud_run_service_autoscales_unless_capped_at_one(tmp_path):
    [capped] = scan(tmp_path, KNATIVE.format(annotations='        autoscaling.knative.dev/maxScale: "5"\n'), "AD403")
    assert capped.line == 9 and "5 pods" in capped.message
    [default] = scan(tmp_path, KNATIVE.format(annotations='        run.googleapis.com/startup-cpu-boost: "true"\n'),
                     "AD403")
    assert default.line == 2 and "Cloud Run" in default.message
    assert scan(tmp_path, KNATIVE.format(annotations='        autoscaling.knative.dev/maxScale: "1"\n'), "AD403") == []


def test_plain_kubernetes_service_is_not_an_autoscaler(tmp_path):
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: chat}\nspec:\n  ports: [{port: 80}]\n"
    assert scan(tmp_path, text, "AD403") == []


def test_helm_values_replica_count_and_enabled_autoscaling(tmp_path):
    values = ("replicaCount: 3\nimage:\n  repository: chat\nautoscaling:\n  enabled: false\n  maxReplicas: 100\n"
              "worker:\n  replicaCount: 1\n  autoscaling:\n    enabled: true\n    maxReplicas: 6\n")
    [replicas] = scan(tmp_path, values, "AD402", name="chart/values.yaml")
    assert (replicas.line, replicas.symbol) == (1, "chart")
    [autoscaler] = scan(tmp_path, values, "AD403", name="chart/values-prod.yaml")
    assert (autoscaler.line, autoscaler.symbol) == (11, "worker")


def test_helm_scaffold_defaults_are_silent_and_other_names_are_not_values(tmp_path):
    scaffold = "replicaCount: 1\nautoscaling:\n  enabled: false\n  minReplicas: 1\n  maxReplicas: 100\n"
    assert scan(tmp_path, scaffold, "AD402", name="values.yaml") == []
    assert scan(tmp_path, scaffold, "AD403", name="values.yaml") == []
    assert scan(tmp_path, "replicaCount: 4\n", "AD402", name="settings.yaml") == []
