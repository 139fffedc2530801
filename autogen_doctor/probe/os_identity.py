"""Which worker process accepted a connection, asked of the operating system (Linux /proc).

When the probe starts the service itself (`--serve`), it knows the served process tree and both
ends of each of its connections. The server's end of a TCP connection is the socket whose local
address is the client's remote address and whose remote address is the client's local address;
/proc/net/tcp and /proc/net/tcp6 give that socket's inode, and the process holding the inode
among its file descriptors (/proc/PID/fd -> `socket:[INODE]`) is the worker. This needs no
change to the service, works for HTTP and WebSocket alike, and must be asked while the
connection is open (a closed connection has no inode any more).

Where /proc is missing (macOS, Windows) or unreadable (another user's processes), the answer
is `none` with a reason, and the probe falls back to headers or the reply body.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# Identity sources, as reported: a response header, a field of the reply body, the OS, or none.
IDENTITY_SOURCES = ("header", "body", "os", "none")

Address = tuple[str, int]


@dataclass(frozen=True)
class OsIdentity:
    """The PID that holds the server end of a connection; `source` is "os" or "none"."""

    pid: int | None
    source: str
    reason: str | None = None


def identity_kind(source: str | None) -> str:
    """The kind of an identity source string: "header X-Backend-Pid" -> header, "json pid" ->
    body, "os ..." -> os, None -> none (several sources: the first one's kind)."""
    if not source:
        return "none"
    first = source.split(",")[0].strip()
    if first.startswith("header"):
        return "header"
    if first.startswith(("json", "body")):
        return "body"
    if first.startswith("os"):
        return "os"
    return "none"


def _normal(host: str) -> str:
    """An address in one spelling: IPv4-mapped IPv6 (::ffff:127.0.0.1) becomes plain IPv4."""
    address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _decode_host(hex_host: str) -> str:
    """/proc/net/tcp{,6} writes each 32-bit word of the address in host byte order."""
    raw = bytes.fromhex(hex_host)
    if sys.byteorder == "little":
        raw = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw)


def _decode(field: str) -> Address:
    host, _, port = field.partition(":")
    return _normal(_decode_host(host)), int(port, 16)


def server_socket_inode(client: Address, server: Address, proc: Path = PROC) -> int | None:
    """The inode of the server's end of the connection client -> server, or None.

    `client` is the connecting side's (local) address, `server` the address it connected to.
    """
    wanted_local = (_normal(server[0]), int(server[1]))
    wanted_remote = (_normal(client[0]), int(client[1]))
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                local, remote = _decode(fields[1]), _decode(fields[2])
            except ValueError:
                continue
            if local == wanted_local and remote == wanted_remote:
                inode = int(fields[9])
                return inode or None  # 0: TIME_WAIT and friends, no longer owned
    return None


def process_tree(root: int, proc: Path = PROC) -> list[int]:
    """`root` and every descendant, parents first (from /proc/PID/task/TID/children)."""
    tree, queue, seen = [], [root], set()
    while queue:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        tree.append(pid)
        try:
            tasks = list((proc / str(pid) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                queue.extend(int(child) for child in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return tree


def pid_holding(inode: int, pids: list[int], proc: Path = PROC) -> int | None:
    """The first of `pids` (deepest first: workers before their supervisor) holding the socket."""
    target = f"socket:[{inode}]"
    for pid in reversed(pids):
        try:
            descriptors = os.scandir(proc / str(pid) / "fd")
        except OSError:
            continue
        with descriptors:
            for entry in descriptors:
                try:
                    if os.readlink(entry.path) == target:
                        return pid
                except OSError:
                    continue
    return None


def os_identity_unavailable(proc: Path = PROC) -> str | None:
    """Why the OS cannot name the worker here, or None when it can."""
    if not (proc / "net" / "tcp").exists():
        return f"{proc}/net/tcp is not available (not Linux, or /proc is not mounted)"
    try:
        os.scandir(proc / "self" / "fd").close()
    except OSError as error:
        return f"cannot read {proc}/self/fd ({error.strerror or error})"
    return None


def identify_connection(client: Address, server: Address, root_pid: int, proc: Path = PROC) -> OsIdentity:
    """The worker of the served process tree under `root_pid` that holds this open connection."""
    unavailable = os_identity_unavailable(proc)
    if unavailable:
        return OsIdentity(None, "none", unavailable)
    inode = server_socket_inode(client, server, proc)
    if inode is None:
        return OsIdentity(None, "none", f"no open TCP socket {server[0]}:{server[1]} <- {client[0]}:{client[1]} "
                                        "(the connection closed, or the server is on another host)")
    pid = pid_holding(inode, process_tree(root_pid, proc), proc)
    if pid is None:
        return OsIdentity(None, "none", f"no process under pid {root_pid} holds the server's socket "
                                        "(a proxy in between, or another user's processes)")
    return OsIdentity(pid, "os")


def parse_address(text: str) -> Address | None:
    """'127.0.0.1:8000' or '[::1]:8000' (as probe records write them) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def identify_http_response(response: object, root_pid: int, proc: Path = PROC) -> OsIdentity:
    """The served worker holding an httpx response's connection, asked while the response is
    still open (read from httpcore's network stream), with the reason when there is none."""
    stream = getattr(response, "extensions", {}).get("network_stream")
    if stream is None:
        return OsIdentity(None, "none", "the HTTP client exposes no connection to look up")
    client, server = stream.get_extra_info("client_addr"), stream.get_extra_info("server_addr")
    if not client or not server:
        return OsIdentity(None, "none", "the connection's addresses are unknown")
    return identify_connection(tuple(client[:2]), tuple(server[:2]), root_pid, proc)


def pid_of_http_response(response: object, root_pid: int, proc: Path = PROC) -> int | None:
    """The PID of `identify_http_response`, or None."""
    return identify_http_response(response, root_pid, proc).pid
