"""Deployment files through the real scan pipeline (`scan_paths`) and the CLI, on real trees."""

import json
import subprocess
import sys
from pathlib import Path

from autogen_doctor.scan.engine import scan_paths

SERVICE = '''from fastapi import FastAPI

app = FastAPI()
sessions = {}


@app.post("/chat")
async def chat(body: dict):
    history = sessions.setdefault(body["session_id"], [])
    history.append(body["message"])
    return {"reply": str(len(history))}
'''


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def by_code(result, code):
    return [finding for finding in result.findings if finding.code == code]


def test_scaled_dockerfile_is_reported_and_raises_process_local_state_to_error(tmp_path):
    write(tmp_path, {"app.py": SERVICE,
                     "Dockerfile": 'FROM python:3.11\nCMD ["uvicorn", "app:app", "--workers", "4"]\n'})
    result = scan_paths([tmp_path], use_cache=False)
    [workers] = by_code(result, "AD401")
    assert workers.severity.value == "info" and workers.path.endswith("Dockerfile") and workers.line == 2
    assert by_code(result, "AD101") and all(f.severity.value == "error" for f in by_code(result, "AD101"))
    assert result.errors == []


def test_single_worker_dockerfile_leaves_process_local_state_a_warning(tmp_path):
    write(tmp_path, {"app.py": SERVICE,
                     "Dockerfile": 'FROM python:3.11\nCMD ["uvicorn", "app:app", "--workers", "1"]\n'})
    result = scan_paths([tmp_path], use_cache=False)
    assert by_code(result, "AD401") == []
    assert by_code(result, "AD101") and all(f.severity.value == "warning" for f in by_code(result, "AD101"))


def test_kubernetes_replicas_and_emptydir_in_a_tree(tmp_path):
    manifest = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: chat}\nspec:\n  replicas: 3\n"
                "  template:\n    spec:\n      containers:\n        - name: api\n          image: chat\n"
                "          volumeMounts: [{name: history, mountPath: /app/history}]\n"
                "      volumes:\n        - name: history\n          emptyDir: {}\n")
    write(tmp_path, {"deploy/k8s/chat.yaml": manifest, "mkdocs.yml": "site_name: docs\nnav: [index.md]\n"})
    result = scan_paths([tmp_path], use_cache=False)
    assert [f.line for f in by_code(result, "AD402")] == [5]
    [empty_dir] = by_code(result, "AD350")
    assert empty_dir.line == 13 and empty_dir.severity.value == "error"  # raised: the Deployment has 3 replicas
    assert all(f.path.endswith("chat.yaml") for f in result.findings)  # mkdocs.yml says nothing


def test_broken_yaml_is_an_error_entry_and_the_scan_goes_on(tmp_path):
    write(tmp_path, {"broken.yaml": "services:\n  web:\n    image: [x\n",
                     "compose.yaml": "services:\n  web:\n    image: x\n    deploy:\n      replicas: 2\n"})
    result = scan_paths([tmp_path], use_cache=False)
    [error] = result.errors
    assert error.path.endswith("broken.yaml") and "line" in error.message and "\n" not in error.message
    assert [f.line for f in by_code(result, "AD404")] == [5]


def test_helm_chart_templates_are_skipped_and_values_are_read(tmp_path):
    write(tmp_path, {
        "chart/Chart.yaml": "apiVersion: v2\nname: chat\nversion: 0.1.0\n",
        "chart/values.yaml": "replicaCount: 3\n",
        "chart/templates/deployment.yaml": ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                            "  name: {{ include \"chat.fullname\" . }}\nspec:\n"
                                            "  replicas: {{ .Values.replicaCount }}\n"),
    })
    result = scan_paths([tmp_path], use_cache=False)
    assert result.errors == []
    assert [(Path(f.path).name, f.code, f.line) for f in result.findings] == [("values.yaml", "AD402", 1)]


def test_cli_json_and_suppression_comment_in_a_dockerfile(tmp_path):
    write(tmp_path, {"Dockerfile": ('FROM python:3.11\n# autogen-doctor: ignore[AD401]\n'
                                    'CMD ["uvicorn", "app:app", "--workers", "4"]\n'),
                     "Procfile": "worker: celery -A chat worker\n"})
    completed = subprocess.run([sys.executable, "-m", "autogen_doctor", "scan", str(tmp_path), "--format", "json",
                                "--no-cache", "--fail-on", "info"], capture_output=True, text=True, timeout=120)
    report = json.loads(completed.stdout)
    codes = [finding["code"] for finding in report["findings"]]
    assert codes == ["AD405"]
    assert completed.returncode == 1
