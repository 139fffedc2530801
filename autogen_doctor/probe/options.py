"""Everything one probe run was asked to do, as plain data shared by the CLI, send and serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BODY = '{"session_id": "{session}", "message": "{message}"}'
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
# --retries at most this: each retry waits (backoff at most MAX_BACKOFF_S, or Retry-After at most
# --timeout), so a turn costs at most (MAX_RETRIES + 1) requests.
MAX_RETRIES = 10
MAX_BACKOFF_S = 2.0
FORMATS = ("text", "json", "junit", "markdown", "html")
# Upper bounds for a run, live or replayed: reports draw one cell per turn and one row per
# session, so an absurd count (a typo, a damaged recording) would hang them instead of failing.
MAX_TURNS = 10_000
MAX_SESSIONS = 1_000_000


@dataclass
class ProbeOptions:
    """Options of `autogen-doctor probe` (see the probe section of the contract).

    `headers` are (name, value) pairs in the order given; `workers` is the list of worker
    counts `--serve` tries (engineer F's serve mode).
    """

    url: str | None = None
    body: str = DEFAULT_BODY
    method: str = "POST"
    headers: list[tuple[str, str]] = field(default_factory=list)
    reply_path: str | None = None
    pid_header: str | None = None
    pod_header: str | None = None
    pid_path: str | None = None
    pod_path: str | None = None
    sessions: int = 8
    turns: int = 4
    concurrency: int = 4
    concurrent_turns: bool = False
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    seed: int | None = None
    reuse_connections: bool = False
    fmt: str = "text"
    output: Path | None = None
    record: Path | None = None
    replay: Path | None = None
    quiet: bool = False
    src: Path | None = None
    serve: str | None = None
    workers: list[int] = field(default_factory=lambda: [1, 4])
    port: int | None = None
    ready_timeout: float | None = None  # with --serve: seconds to wait for the service to answer
    ws: Any = None  # probe ws://...: the checked WsOptions (autogen_doctor.probe.ws.options)
    # With --serve: the served process group's leader; the OS then names each connection's worker
    # (autogen_doctor.probe.os_identity) when the replies carry no identity.
    os_identity_root: int | None = None
    insecure: bool = False  # https: do not verify the certificate
    ca_bundle: Path | None = None  # https: trust this CA bundle (PEM) instead of the system's
