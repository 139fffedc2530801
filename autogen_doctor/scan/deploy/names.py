"""Which file names are deployment files: the name tests only, with nothing to parse.

Discovery asks `is_deploy_file` of every file it walks past, so this module imports no
parser (and no YAML library): a scan of a tree without deployment files never loads them.
"""

from __future__ import annotations

import re
from pathlib import Path

GUNICORN_CONFIG_NAMES = frozenset({"gunicorn.conf.py", "gunicorn_conf.py", "gunicorn_config.py",
                                   "gunicorn.config.py"})
SUPERVISOR_NAMES = frozenset({"supervisord.conf", "supervisor.conf"})
SUPERVISOR_DIRS = frozenset({"supervisor", "supervisord", "supervisor.d", "supervisord.d", "conf.d"})
_CONTAINERFILE_PREFIXES = ("dockerfile", "containerfile")
# `Dockerfile.md`, `dockerfile_utils.py`: documents and code about Dockerfiles, not Dockerfiles.
_NOT_A_DOCKERFILE = frozenset({".py", ".md", ".rst", ".txt", ".json", ".yaml", ".yml", ".sh", ".ps1",
                               ".toml", ".cfg", ".ini", ".html", ".bak", ".orig", ".swp", ".lock", ".pyc"})

START_SCRIPT_NAME = re.compile(
    r"^(?:(?:docker-)?entrypoint(?:[-_.][\w.-]*)?|[\w.-]+[-_]entrypoint|start(?:[-_][\w.-]*)?|[\w.-]+[-_]start"
    r"|boot|serve|server|launch|run[-_](?:server|app|api|web|worker|prod|production))\.sh$",
    re.IGNORECASE,
)


def is_start_script(name: str) -> bool:
    """True when `name` is a container start script's (entrypoint.sh, start-web.sh, boot.sh...)."""
    return START_SCRIPT_NAME.match(name) is not None


def is_dockerfile(name: str) -> bool:
    """True for Dockerfile, Dockerfile.*, Dockerfile-*, *.dockerfile and the Containerfile forms."""
    lower = name.lower()
    if lower.endswith((".dockerfile", ".containerfile")):
        return True
    for prefix in _CONTAINERFILE_PREFIXES:
        if lower == prefix:
            return True
        if lower.startswith(prefix) and lower[len(prefix)] in ".-_":
            return Path(lower).suffix not in _NOT_A_DOCKERFILE
    return False


def is_supervisor_config(path: Path) -> bool:
    """True for supervisord.conf / supervisor.conf, and *.conf / *.ini in a supervisor folder."""
    lower = path.name.lower()
    if lower in SUPERVISOR_NAMES:
        return True
    if not lower.endswith((".conf", ".ini")):
        return False
    return any(part.lower() in SUPERVISOR_DIRS for part in path.parts[-3:-1])


def is_deploy_file(path: Path) -> bool:
    """True when `path`'s name says it may be a deployment file (no I/O).

    Dockerfile, Dockerfile.*, Dockerfile-*, *.dockerfile, Containerfile (and the same variants);
    *.yaml / *.yml (Kubernetes, compose, App Engine or Helm values: decided by content and, for
    Helm values, by the name `values*.yaml`); Procfile;
    gunicorn.conf.py, gunicorn_conf.py, gunicorn_config.py, gunicorn.config.py; supervisord.conf,
    supervisor.conf, and *.conf / *.ini inside a supervisor/, supervisord/, supervisor.d/ or conf.d/
    folder; container start scripts: entrypoint.sh, docker-entrypoint.sh, *-entrypoint.sh,
    start.sh, start-*.sh, *-start.sh, boot.sh, serve.sh, server.sh, launch.sh, run-server.sh,
    run-app.sh, run-web.sh, run-worker.sh and the like."""
    name = path.name
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return True
    if lower in GUNICORN_CONFIG_NAMES or lower == "procfile":
        return True
    if lower.endswith(".sh"):
        return is_start_script(name)
    return is_dockerfile(name) or is_supervisor_config(path)


# Images of stores, proxies and observability tools: replicas of these do not split the Python
# service's memory, so their replica counts are not evidence of scaling (their storage still is).
_INFRASTRUCTURE_IMAGES = frozenset({
    "redis", "redis-stack", "redis-stack-server", "valkey", "keydb", "dragonfly", "memcached", "postgres",
    "postgresql", "postgis", "pgvector", "mysql", "mariadb", "mongo", "mongodb", "cassandra", "elasticsearch",
    "opensearch", "rabbitmq", "kafka", "zookeeper", "nats", "etcd", "consul", "vault", "minio", "nginx",
    "nginx-unprivileged", "traefik", "haproxy", "envoy", "caddy", "prometheus", "grafana", "jaeger",
    "opentelemetry-collector", "otel-collector", "fluentd", "fluent-bit", "busybox", "qdrant", "weaviate",
    "milvus", "chroma", "pgbouncer",
})


def is_infrastructure_image(image: str) -> bool:
    """`redis:7`, `bitnami/postgresql:16`, `docker.io/library/nginx@sha256:...` and the like."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return name in _INFRASTRUCTURE_IMAGES
