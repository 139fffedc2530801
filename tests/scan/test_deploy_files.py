"""Which files are deployment files, what kind they are, bad input, and scaling evidence."""

import pickle
import time
from pathlib import Path

import pytest

from autogen_doctor.scan.deploy import DeployParseError, is_deploy_file, parse_deploy_file, scaling_evidence
from autogen_doctor.scan.project import Project


def parse(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return parse_deploy_file(path, name, path.read_text())


def test_yaml_that_is_neither_kubernetes_nor_compose_is_other(tmp_path):
    mkdocs = ("site_name: Docs\nmarkdown_extensions:\n  - pymdownx.superfences:\n      custom_fences:\n"
              "        - name: mermaid\n          format: !!python/name:pymdownx.superfences.fence_code_format\n")
    workflow = ("on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    services:\n      redis:\n"
                "        image: redis\n    steps:\n      - run: gunicorn -w 4 app:app\n")
    openapi = "openapi: 3.0.0\ninfo: {title: chat, version: '1'}\npaths:\n  /chat:\n    post: {}\n"
    for name, text in (("mkdocs.yml", mkdocs), (".github/workflows/ci.yml", workflow), ("openapi.yaml", openapi)):
        deploy = parse(tmp_path, name, text)
        assert deploy.kind == "other" and not deploy.scaling and not deploy.ephemeral, name


def test_kinds_are_recognised(tmp_path):
    assert parse(tmp_path, "k.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n").kind == "kubernetes"
    assert parse(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n").kind == "compose"
    assert parse(tmp_path, "Dockerfile", "FROM python\n").kind == "dockerfile"
    assert parse(tmp_path, "Procfile", "web: python app.py\n").kind == "procfile"
    assert parse(tmp_path, "gunicorn.conf.py", "bind = ':80'\n").kind == "gunicorn"
    assert parse(tmp_path, "supervisord.conf", "[program:a]\ncommand=python a.py\n").kind == "supervisor"


def test_empty_files_parse_to_no_facts(tmp_path):
    for name in ("empty.yaml", "Dockerfile", "Procfile", "gunicorn.conf.py", "supervisord.conf"):
        deploy = parse(tmp_path, name, "")
        assert not deploy.scaling and not deploy.ephemeral, name


def test_binary_content_raises(tmp_path):
    with pytest.raises(DeployParseError, match="binary"):
        parse(tmp_path, "blob.yaml", "apiVersion: v1\x00\x01\x02")


def test_control_character_raises_with_its_line(tmp_path):
    with pytest.raises(DeployParseError, match="line 2"):
        parse(tmp_path, "ctl.yaml", "apiVersion: v1\nkind: \x07Pod\n")


def test_broken_yaml_of_any_kind_raises_with_a_line(tmp_path):
    with pytest.raises(DeployParseError, match=r"^invalid YAML at line 4: .*started at line 2\)$"):
        parse(tmp_path, "values.yml", "a: 1\nb: [1,\nc: 2\n")


def test_deeply_nested_yaml_does_not_escape_as_a_traceback(tmp_path):
    text = "apiVersion: v1\nkind: ConfigMap\ndata: " + "[" * 5000 + "]" * 5000 + "\n"
    try:
        deploy = parse(tmp_path, "deep.yaml", text)
    except DeployParseError as error:
        assert "nested" in str(error) or "line" in str(error)
    else:
        assert deploy.kind == "kubernetes" and not deploy.scaling


@pytest.mark.parametrize("body", ["[" * 60000 + "]" * 60000, "- " * 60000 + "x", "{a: " * 60000 + "}" * 60000],
                         ids=["flow-sequences", "block-sequences", "flow-mappings"])
def test_pathological_nesting_is_refused_without_crashing(tmp_path, body):
    # libyaml recurses in C and would crash the whole process at this depth.
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n" + body + "\n"
    with pytest.raises(DeployParseError, match="nested more than"):
        parse(tmp_path, "deep.yaml", text)


def test_large_multi_document_bundle_finds_the_deployment_on_its_line(tmp_path):
    filler = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  k: '{'x' * 60}'\n"
                     for i in range(12000))
    text = filler + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chat\nspec:\n  replicas: 6\n"
    assert len(text) > 1_000_000
    deploy = parse(tmp_path, "bundle.yaml", text)
    [fact] = deploy.scaling
    assert text.splitlines()[fact.position.line - 1] == "  replicas: 6"


def test_large_yaml_without_kubernetes_or_compose_keys_is_not_parsed(tmp_path):
    text = "openapi: 3.0.0\npaths:\n" + "".join(f"  /p{i}:\n    get: {{summary: '{'y' * 40}'}}\n"
                                              for i in range(20000))
    started = time.perf_counter()
    deploy = parse(tmp_path, "openapi.yaml", text)
    assert deploy.kind == "other"
    assert time.perf_counter() - started < 5  # a guard against a full parse, not a benchmark


def test_deploy_file_survives_pickling(tmp_path):
    deploy = parse(tmp_path, "k.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n"
                                        "  replicas: 2\n")
    assert pickle.loads(pickle.dumps(deploy)) == deploy


def test_scaling_evidence_lists_every_multi_process_place(tmp_path):
    files = [
        parse(tmp_path, "Dockerfile", 'FROM python\nCMD ["uvicorn", "app:app", "--workers", "4"]\n'),
        parse(tmp_path, "k8s/app.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n"
                                        "  replicas: 3\n"),
        parse(tmp_path, "Procfile", "web: uvicorn app:app\n"),
    ]
    evidence = scaling_evidence(Project(roots=[tmp_path], deploy_files=files))
    assert evidence == ["Dockerfile:2 uvicorn --workers 4", "k8s/app.yaml:5 replicas: 3"]


def test_scaling_evidence_is_empty_for_single_process_deployments(tmp_path):
    files = [
        parse(tmp_path, "Dockerfile", 'FROM python\nCMD ["uvicorn", "app:app", "--workers", "1"]\n'),
        parse(tmp_path, "k8s/app.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n"
                                        "  replicas: 1\n"),
        parse(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    command: celery -A p worker -c 1\n"),
    ]
    assert scaling_evidence(Project(roots=[tmp_path], deploy_files=files)) == []


def test_is_deploy_file_by_name():
    yes = ["k8s/deploy.yaml", "compose.yml", "Procfile", "gunicorn.conf.py", "gunicorn_conf.py",
           "supervisord.conf", "etc/supervisor/conf.d/app.conf", "deploy/supervisord.d/x.ini", "Containerfile"]
    no = ["app.py", "gunicorn.conf.py.bak", "README.md", "nginx.conf", "setup.cfg", "requirements.txt"]
    assert [name for name in yes if not is_deploy_file(Path(name))] == []
    assert [name for name in no if is_deploy_file(Path(name))] == []


def test_merge_key_bomb_and_recursive_aliases_are_handled_quickly(tmp_path):
    lines = ["a0: &a0 {x: 1}"]
    for level in range(1, 12):
        lines.append(f"a{level}: &a{level}\n  <<: [{', '.join([f'*a{level - 1}'] * 9)}]\n  k{level}: v")
    lines.append("services:\n  web:\n    <<: *a11\n    image: x\n    deploy: {replicas: 2}")
    started = time.perf_counter()
    deploy = parse(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert [fact.evidence for fact in deploy.scaling] == ["deploy.replicas: 2"]
    assert time.perf_counter() - started < 5  # 9**11 entries if merges were expanded naively
    looping = parse(tmp_path, "loop.yaml", "apiVersion: v1\nkind: List\nitems: &i\n  - apiVersion: v1\n"
                                           "    kind: List\n    items: *i\n")
    assert looping.scaling == []


EXAMPLE_FILES = {"AD350": "deploy.yaml", "AD351": "compose.yaml", "AD401": "Dockerfile", "AD402": "deploy.yaml",
                 "AD403": "hpa.yaml", "AD404": "compose.yaml", "AD405": "Procfile", "AD406": "supervisord.conf",
                 "AD407": "app.yaml"}


@pytest.mark.parametrize("code", sorted(EXAMPLE_FILES))
def test_each_rule_documents_itself_and_its_example_fires(tmp_path, code):
    from autogen_doctor.scan.registry import load_rules

    rule = load_rules()[code]
    doc = rule.doc
    assert doc.what_it_does and doc.why_bad and doc.example and doc.use_instead
    example = doc.example.split("```", 2)[1].split("\n", 1)[1]  # the first fenced block's body
    deploy = parse(tmp_path, EXAMPLE_FILES[code], example)
    findings = list(rule.check(Project(roots=[tmp_path], deploy_files=[deploy])))
    assert findings and all(finding.code == code for finding in findings)
