"""Kubernetes `args` (no `command`) and compose `command` run inside the Dockerfile's ENTRYPOINT:
the worker count is read from the two files together (AD401), on real trees."""

from pathlib import Path

from autogen_doctor.scan.engine import scan_paths

SERVICE = '''from fastapi import FastAPI

app = FastAPI()
sessions = {}


@app.post("/chat")
async def chat(body: dict):
    sessions.setdefault(body["session_id"], []).append(body["message"])
    return {}
'''


def pod(container_lines: str, image: str = "registry.example/chat:1.4") -> str:
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chat\nspec:\n  template:\n    spec:\n"
            f"      containers:\n        - name: api\n          image: {image}\n{container_lines}")


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def scan(root: Path):
    result = scan_paths([root], use_cache=False)
    assert result.errors == []
    return result


def codes(result, code):
    return [finding for finding in result.findings if finding.code == code]


def test_args_with_uvicorn_entrypoint_run_four_workers_and_escalate(tmp_path):
    write(tmp_path, {"app.py": SERVICE,
                     "Dockerfile": 'FROM python:3.11\nENTRYPOINT ["uvicorn", "app:api"]\nCMD ["--port", "80"]\n',
                     "k8s/chat.yaml": pod('          args: ["--port", "80", "--workers", "4"]\n')})
    result = scan(tmp_path)
    [workers] = codes(result, "AD401")
    assert workers.path.endswith("chat.yaml") and workers.line == 11
    assert "4 worker processes" in workers.message and "ENTRYPOINT of" in workers.message
    assert all(finding.severity.value == "error" for finding in codes(result, "AD101"))
    assert codes(result, "AD101")


def test_block_list_args_with_gunicorn_entrypoint(tmp_path):
    write(tmp_path, {"docker/chat/Dockerfile": 'FROM python:3.11\nENTRYPOINT ["gunicorn", "app:api"]\n',
                     "docker/other/Dockerfile": 'FROM python:3.11\nCMD ["python", "job.py"]\n',
                     "k8s/chat.yaml": pod('          args:\n            - -w\n            - "3"\n')})
    [workers] = codes(scan(tmp_path), "AD401")
    assert workers.line == 12 and "gunicorn" in workers.message and "3 worker processes" in workers.message
    assert "docker/chat/Dockerfile" in workers.message  # the image's name picks its Dockerfile


def test_compose_command_runs_inside_the_built_dockerfile_entrypoint(tmp_path):
    entrypoint = 'ENTRYPOINT ["gunicorn", "-k", "uvicorn.workers.UvicornWorker"]'
    write(tmp_path, {"svc/Dockerfile": f'FROM python:3.11\n{entrypoint}\n',
                     "compose.yaml": "services:\n  web:\n    build: ./svc\n    command: app:api --workers 5\n"})
    [workers] = codes(scan(tmp_path), "AD401")
    assert workers.line == 4 and "5 worker processes" in workers.message


def test_args_alone_are_read_when_they_start_a_server_and_no_dockerfile_is_in_the_tree(tmp_path):
    write(tmp_path, {"k8s/chat.yaml": pod('          args: ["uvicorn", "app:api", "--workers", "2"]\n')})
    [workers] = codes(scan(tmp_path), "AD401")
    assert workers.line == 11 and "ENTRYPOINT" not in workers.message


# ---------- clean twins ----------

def test_args_without_worker_flags_are_silent(tmp_path):
    write(tmp_path, {"Dockerfile": 'FROM python:3.11\nENTRYPOINT ["uvicorn", "app:api"]\n',
                     "k8s/chat.yaml": pod('          args: ["--host", "0.0.0.0", "--port", "80"]\n')})
    assert codes(scan(tmp_path), "AD401") == []


def test_command_replaces_the_entrypoint(tmp_path):
    write(tmp_path, {"Dockerfile": 'FROM python:3.11\nENTRYPOINT ["uvicorn", "app:api"]\n',
                     "k8s/chat.yaml": pod('          command: ["python", "serve.py"]\n'
                                          '          args: ["--workers", "4"]\n')})
    assert codes(scan(tmp_path), "AD401") == []


def test_worker_flags_without_a_known_image_are_silent(tmp_path):
    write(tmp_path, {"k8s/chat.yaml": pod('          args: ["--workers", "4"]\n')})
    assert codes(scan(tmp_path), "AD401") == []


def test_shell_form_entrypoint_ignores_args_and_infrastructure_images_are_not_joined(tmp_path):
    write(tmp_path, {"Dockerfile": 'FROM python:3.11\nENTRYPOINT uvicorn app:api\n',
                     "k8s/chat.yaml": pod('          args: ["--workers", "4"]\n')})
    assert codes(scan(tmp_path), "AD401") == []
    write(tmp_path, {"Dockerfile": 'FROM python:3.11\nENTRYPOINT ["uvicorn", "app:api"]\n',
                     "k8s/chat.yaml": pod('          args: ["--workers", "4"]\n', image="redis:7")})
    assert codes(scan(tmp_path), "AD401") == []


def test_compose_entrypoint_replaces_the_dockerfile_one(tmp_path):
    write(tmp_path, {"svc/Dockerfile": 'FROM python:3.11\nENTRYPOINT ["gunicorn", "app:api"]\n',
                     "compose.yaml": ("services:\n  web:\n    build: ./svc\n    entrypoint: [python, serve.py]\n"
                                      "    command: [-w, '4']\n")})
    assert codes(scan(tmp_path), "AD401") == []
