"""Real services for tests: uvicorn with several workers, redis-server, nginx.

Every process is started in its own process group and killed with the group, so no worker
outlives its test. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import httpx

from autogen_doctor.probe.serve import free_port, stop_process_group  # the same lifetime rules as --serve

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_until_ready(check, process: subprocess.Popen, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready within {timeout_s}s")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningService:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def uvicorn_service(
    app: str,
    *,
    workers: int = 1,
    app_dir: Path | str | None = None,
    env: dict[str, str] | None = None,
    ready_path: str = "/",
    port: int | None = None,
) -> Iterator[RunningService]:
    """Run `uvicorn app --workers N` on a free loopback port until the block ends.

    Ready means every worker could have answered: we wait for HTTP, then give the remaining
    workers a moment, since uvicorn's supervisor starts them one after the other.
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]
    if app_dir is not None:
        cmd += ["--app-dir", str(app_dir)]
    log_file = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=full_env,
                               cwd=str(REPO_ROOT), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    service = RunningService(url=url, port=port, process=process, log_path=Path(log_file.name))
    try:
        wait_until_ready(lambda: httpx.get(url + ready_path, timeout=1.0).status_code < 600,
                         process, f"uvicorn {app}")
        if workers > 1:
            _wait_for_workers(url + ready_path, workers)
        yield service
    finally:
        stop_process_group(process)
        log_file.close()


def _wait_for_workers(url: str, workers: int, timeout_s: float = 30.0) -> None:
    """uvicorn's supervisor starts workers one after another. When the app names its process
    (X-Backend-Pid), wait until `workers` distinct pids have answered; else allow a fixed moment."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(seen) < workers:
        try:
            response = httpx.get(url, timeout=2.0)  # a new connection each time
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        pid = response.headers.get("x-backend-pid")
        if pid is None:
            time.sleep(1.0 + 0.3 * workers)
            return
        seen.add(pid)
        time.sleep(0.01)


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free port, no persistence. Yields its URL."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_until_ready(lambda: _port_open(port), process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process_group(process)
        shutil.rmtree(workdir, ignore_errors=True)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx") or None


@contextlib.contextmanager
def nginx_round_robin(upstream_ports: Sequence[int], *, sticky_ip_hash: bool = False) -> Iterator[str]:
    """A real nginx balancing plain round-robin (or ip_hash) over local upstreams. Yields URL.

    keepalive to upstreams is off so every proxied request is routed on its own.
    """
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir()
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports)
    balance = "        ip_hash;\n" if sticky_ip_hash else ""
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    upstream backends {{
{balance}{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 30s;
        }}
    }}
}}
"""
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(conf)
    process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until_ready(lambda: _port_open(port), process, "nginx")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)
        shutil.rmtree(prefix, ignore_errors=True)
