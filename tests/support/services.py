"""Real services for tests: uvicorn with several workers, redis-server, nginx.

Every process is started in its own process group and killed with the group, so no worker
outlives its test. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
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
        Path(log_file.name).unlink(missing_ok=True)


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
def nginx_round_robin(upstream_ports: Sequence[int], *, sticky_ip_hash: bool = False,
                      websocket: bool = False, served_by: bool = False) -> Iterator[str]:
    """A real nginx balancing plain round-robin (or ip_hash) over local upstreams. Yields URL.

    keepalive to upstreams is off so every proxied request is routed on its own. `websocket`
    passes the Upgrade handshake through (as a WebSocket deployment must); `served_by` adds
    `X-Served-By: <upstream address>` to every answer, the 101 included, so the probe can tell pods apart.
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
    if websocket:
        connection_map = "    map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
        connection_headers = ("            proxy_set_header Upgrade $http_upgrade;\n"
                              "            proxy_set_header Connection $connection_upgrade;")
    else:
        connection_map = ""
        connection_headers = '            proxy_set_header Connection "";'
    served_by_header = "            add_header X-Served-By $upstream_addr always;\n" if served_by else ""
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
{connection_map}    upstream backends {{
{balance}{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
{connection_headers}
            proxy_read_timeout 30s;
{served_by_header}        }}
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


# --- Redis Cluster and Sentinel ------------------------------------------------------------
# Services that outgrow one Redis run a Cluster (keys sharded over primaries) or Sentinel (one
# primary, replicas, automatic failover). The fix kit's tests run both for real, on loopback.

def _redis_tool(name: str, package: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"{name} is not installed (apt-get install {package})")
    return binary


def _start_redis_node(workdir: Path, port: int, *extra: str) -> subprocess.Popen:
    """One redis-server in `workdir`, loopback only, no persistence, in its own process group."""
    workdir.mkdir(parents=True, exist_ok=True)
    binary = _redis_tool("redis-server", "redis-server")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--logfile", str(workdir / "redis.log"), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_until_ready(lambda: _port_open(port), process, f"redis-server on port {port}", timeout_s=20.0)
    except RuntimeError:
        stop_process_group(process)
        raise
    return process


def _redis_reply(port: int, *command: str) -> str:
    """One command through redis-cli, its reply as text ('' when the node does not answer)."""
    cli = _redis_tool("redis-cli", "redis-tools")
    try:
        done = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port), *command],
                              capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def _wait_for(condition, what: str, timeout_s: float) -> None:
    """Poll `condition` until it holds; RuntimeError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout_s}s")


@dataclass
class RedisClusterNodes:
    """A running Redis Cluster: its primaries' ports, and a `redis://` URL of one of them."""

    ports: list[int]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"


@contextlib.contextmanager
def redis_cluster(primaries: int = 3) -> Iterator[RedisClusterNodes]:
    """A throw-away Redis Cluster of `primaries` nodes (no replicas), all 16384 slots covered.

    Each node gets its own client port and cluster-bus port (`cluster-port`, Redis 7+), both
    chosen free, so nothing depends on the default "port + 10000" being free or in range.
    """
    workdir = Path(tempfile.mkdtemp(prefix="redis-cluster-"))
    processes: list[subprocess.Popen] = []
    ports: list[int] = []
    try:
        for index in range(primaries):
            port, bus_port = free_port(), free_port()
            while bus_port == port:
                bus_port = free_port()
            processes.append(_start_redis_node(
                workdir / f"node-{index}", port, "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-port", str(bus_port),
                "--cluster-node-timeout", "2000"))
            ports.append(port)
        cli = _redis_tool("redis-cli", "redis-tools")
        created = subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{port}" for port in ports],
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        _wait_for(lambda: all("cluster_state:ok" in _redis_reply(port, "CLUSTER", "INFO") for port in ports),
                  "the cluster did not reach cluster_state:ok", timeout_s=30)
        yield RedisClusterNodes(ports=ports, workdir=workdir)
    finally:
        for process in processes:
            stop_process_group(process)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class SentinelGroup:
    """A primary, its replicas and three sentinels watching them (master name `service_name`)."""

    service_name: str
    sentinel_ports: list[int]
    primary_port: int
    replica_ports: list[int]
    primary: subprocess.Popen
    replicas: list[subprocess.Popen]

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """(host, port) pairs, as `redis.sentinel.Sentinel(...)` takes them."""
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    def current_primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers sees it now."""
        for port in self.sentinel_ports:
            reply = _redis_reply(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name).split()
            if len(reply) == 2:
                return int(reply[1])
        return None

    def crash_primary(self) -> None:
        """SIGKILL the primary, as a crashed node or a lost machine would vanish."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.primary.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.primary.wait(timeout=10)

    @contextlib.contextmanager
    def replicas_stopped(self) -> Iterator[None]:
        """SIGSTOP the replicas for the block, as stalled or overloaded replicas stop acknowledging."""
        for replica in self.replicas:
            os.kill(replica.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for replica in self.replicas:
                os.kill(replica.pid, signal.SIGCONT)

    def wait_for_failover(self, timeout_s: float = 60.0) -> None:
        """Until every sentinel names the same replica as primary and it accepts writes."""
        def promoted() -> bool:
            names = {tuple(_redis_reply(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name).split())
                     for port in self.sentinel_ports}
            if len(names) != 1:
                return False
            [name] = names
            return (len(name) == 2 and int(name[1]) in self.replica_ports
                    and "role:master" in _redis_reply(int(name[1]), "INFO", "replication"))

        _wait_for(promoted, "the sentinels did not promote a replica", timeout_s)


def _sentinel_command() -> list[str]:
    # Debian's redis-sentinel package installs the name; the server binary runs the same mode.
    binary = shutil.which("redis-sentinel")
    if binary is not None:
        return [binary]
    return [_redis_tool("redis-server", "redis-server redis-sentinel"), "--sentinel"]


@contextlib.contextmanager
def redis_sentinel_group(service_name: str = "fixkit", replicas: int = 1) -> Iterator[SentinelGroup]:
    """A primary, `replicas` replicas and three sentinels (quorum 2, primary down after 1 s), on loopback.

    Ready means the replicas stream from the primary and every sentinel has found them and the
    other two sentinels, so a failover can start as soon as the primary goes away.
    """
    workdir = Path(tempfile.mkdtemp(prefix="redis-sentinel-"))
    processes: list[subprocess.Popen] = []
    try:
        primary_port = free_port()
        primary = _start_redis_node(workdir / "primary", primary_port)
        processes.append(primary)
        replica_ports, replica_processes = [], []
        for index in range(replicas):
            port = free_port()
            replica_processes.append(_start_redis_node(workdir / f"replica-{index}", port,
                                                       "--replicaof", "127.0.0.1", str(primary_port)))
            processes.append(replica_processes[-1])
            replica_ports.append(port)
        _wait_for(lambda: all("master_link_status:up" in _redis_reply(port, "INFO", "replication")
                              for port in replica_ports),
                  "the replicas did not sync with the primary", timeout_s=30)
        sentinel_ports = []
        for index in range(3):
            port = free_port()
            sentinel_dir = workdir / f"sentinel-{index}"
            sentinel_dir.mkdir()
            conf = sentinel_dir / "sentinel.conf"  # sentinels rewrite their config: it must be writable
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {sentinel_dir}\n"
                f"logfile {sentinel_dir / 'sentinel.log'}\n"
                f"sentinel monitor {service_name} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {service_name} 1000\n"
                f"sentinel failover-timeout {service_name} 10000\n"
                f"sentinel parallel-syncs {service_name} 1\n")
            process = subprocess.Popen([*_sentinel_command(), str(conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
            processes.append(process)
            wait_until_ready(lambda port=port: _port_open(port), process, f"redis-sentinel on port {port}",
                             timeout_s=20.0)
            sentinel_ports.append(port)

        def everyone_known() -> bool:
            for port in sentinel_ports:
                fields = _redis_reply(port, "SENTINEL", "MASTER", service_name).split()
                info = dict(zip(fields[0::2], fields[1::2]))
                if info.get("num-slaves") != str(replicas) or info.get("num-other-sentinels") != "2":
                    return False
            return True

        _wait_for(everyone_known, "the sentinels did not discover the replicas and each other", timeout_s=30)
        yield SentinelGroup(service_name=service_name, sentinel_ports=sentinel_ports,
                            primary_port=primary_port, replica_ports=replica_ports,
                            primary=primary, replicas=replica_processes)
    finally:
        for process in processes:
            stop_process_group(process)
        shutil.rmtree(workdir, ignore_errors=True)
