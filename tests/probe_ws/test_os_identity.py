"""The OS names the worker that accepted a connection: a real uvicorn with 3 workers and no
identity middleware, over HTTP (keep-alive socket) and WebSocket; and a clear fallback."""

import asyncio
import json
import socket
import textwrap

import pytest

from autogen_doctor.probe.os_identity import (
    identify_connection, identity_kind, os_identity_unavailable, parse_address, process_tree,
    server_socket_inode)
from support.services import uvicorn_service

pytestmark = pytest.mark.services

PLAIN_APP = textwrap.dedent('''
    import os
    from fastapi import FastAPI, WebSocket

    api = FastAPI()  # no identity middleware: the OS has to tell

    @api.get("/")
    async def root():
        return {"pid": os.getpid()}

    @api.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(str(os.getpid()))
        await websocket.receive_text()
''')

needs_proc = pytest.mark.skipif(os_identity_unavailable() is not None, reason="no Linux /proc here")


def http_pid_and_os_pid(port: int, root: int) -> tuple[int, int | None]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while b"}" not in data:
            data += sock.recv(4096)
        # The connection is still open (keep-alive): ask the OS who holds its server end.
        found = identify_connection(sock.getsockname()[:2], sock.getpeername()[:2], root)
        body_pid = json.loads(data.split(b"\r\n\r\n", 1)[1].decode())["pid"]
    return body_pid, found.pid


@needs_proc
def test_os_names_the_worker_of_each_http_and_websocket_connection(tmp_path):
    from websockets.asyncio.client import connect

    (tmp_path / "plain_app.py").write_text(PLAIN_APP)
    with uvicorn_service("plain_app:api", workers=3, app_dir=tmp_path) as service:
        root = service.process.pid
        assert len(process_tree(root)) >= 4  # the supervisor and its three workers
        pairs = [http_pid_and_os_pid(service.port, root) for _ in range(20)]

        async def websocket_pairs():
            result = []
            for _ in range(10):
                async with connect(f"ws://127.0.0.1:{service.port}/ws", open_timeout=5) as ws:
                    sent = int(await ws.recv())
                    local, peer = ws.local_address[:2], ws.remote_address[:2]
                    result.append((sent, identify_connection(local, peer, root).pid))
                    await ws.send("bye")
            return result

        ws_pairs = asyncio.run(websocket_pairs())
    assert all(body == found for body, found in pairs + ws_pairs), pairs + ws_pairs
    assert len({body for body, _ in pairs}) >= 2  # several workers were named, not one guess


@needs_proc
def test_a_closed_or_foreign_connection_is_none_with_a_reason():
    found = identify_connection(("127.0.0.1", 1), ("127.0.0.1", 2), 1)
    assert found.pid is None and found.source == "none" and "no open TCP socket" in found.reason
    assert server_socket_inode(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


def test_without_proc_the_fallback_is_named(tmp_path):
    found = identify_connection(("127.0.0.1", 1), ("127.0.0.1", 2), 1, proc=tmp_path)
    assert found.pid is None and found.source == "none" and "not available" in found.reason


def test_identity_kinds_and_addresses():
    assert identity_kind("header X-Backend-Pid, header X-Backend-Pod") == "header"
    assert identity_kind("json worker.pid") == "body"
    assert identity_kind("os /proc") == "os"
    assert identity_kind(None) == "none"
    assert parse_address("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_address("[::1]:8000") == ("::1", 8000)
    assert parse_address("nonsense") is None


DICT_APP = textwrap.dedent('''
    import re
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    api = FastAPI()  # no identity middleware
    memory: dict[str, list[str]] = {}  # per worker process: the bug

    @api.get("/")
    async def root():
        return {"ok": True}

    @api.websocket("/ws/{session}")
    async def chat(websocket: WebSocket, session: str):
        await websocket.accept()
        try:
            while True:
                text = (await websocket.receive_json())["content"]
                words = memory.setdefault(session, [])
                words += re.findall(r"adr-[a-z0-9]{4}-[a-z0-9]{4}", text)
                await websocket.send_json({"type": "TextMessage", "source": "assistant",
                                           "content": "I remember: " + ", ".join(words)})
                await websocket.send_json({"type": "UserInputRequestedEvent", "source": "user", "content": ""})
        except WebSocketDisconnect:
            pass
''')


@needs_proc
def test_probe_with_os_identity_shows_real_pids_for_an_uninstrumented_service(tmp_path):
    from ws_support import probe

    (tmp_path / "dict_app.py").write_text(DICT_APP)
    with uvicorn_service("dict_app:api", workers=3, app_dir=tmp_path) as service:
        worker_pids = {str(pid) for pid in process_tree(service.process.pid)[1:]}
        run = probe(f"ws://127.0.0.1:{service.port}/ws/{{session}}", preset="agentchat-team", sessions=6,
                    turns=4, os_identity_root=service.process.pid)
    verdict = run.verdict
    assert verdict.verdict == "state-loss" and verdict.cause == "process-local-state", verdict.reason
    seen = {record.backend.pid for record in run.transcript.records}
    assert None not in seen and seen <= worker_pids and len(seen) >= 2
    assert run.transcript.identity_source == "os /proc"
    assert identity_kind(run.transcript.identity_source) == "os"


HTTP_DICT_APP = textwrap.dedent('''
    import re
    from fastapi import FastAPI

    api = FastAPI()  # no identity middleware
    memory: dict[str, list[str]] = {}

    @api.get("/")
    async def root():
        return {"ok": True}

    @api.post("/chat")
    async def chat(payload: dict):
        words = memory.setdefault(payload["session_id"], [])
        words += re.findall(r"adr-[a-z0-9]{4}-[a-z0-9]{4}", payload["message"])
        return {"reply": "I remember: " + ", ".join(words)}
''')


@needs_proc
def test_http_probe_with_os_identity_shows_real_pids_for_an_uninstrumented_service(tmp_path):
    from autogen_doctor.probe.command import run_probe
    from autogen_doctor.probe.options import ProbeOptions

    (tmp_path / "http_dict_app.py").write_text(HTTP_DICT_APP)
    with uvicorn_service("http_dict_app:api", workers=3, app_dir=tmp_path) as service:
        worker_pids = {str(pid) for pid in process_tree(service.process.pid)[1:]}
        run = run_probe(ProbeOptions(url=service.url + "/chat", sessions=6, turns=4, seed=3, quiet=True,
                                     os_identity_root=service.process.pid))
    assert run.verdict.cause == "process-local-state", run.verdict.reason
    seen = {record.backend.pid for record in run.transcript.records}
    assert None not in seen and seen <= worker_pids and len(seen) >= 2
    assert run.transcript.identity_source == "os /proc"


@needs_proc
def test_serve_drives_an_uninstrumented_websocket_service_and_the_os_names_its_workers(tmp_path):
    """`probe --serve CMD /ws/{session} --preset agentchat-team --workers 1,3`: the preset selects
    WebSocket, the probe starts the service, and the OS names the worker of every connection."""
    import os
    import subprocess
    import sys

    from serve_targets.processes import MARKER_NAME, new_marker, wait_until_gone

    (tmp_path / "dict_app.py").write_text(DICT_APP)
    marker = new_marker()
    command = f"uvicorn dict_app:api --app-dir {tmp_path} --log-level warning"
    cli = subprocess.Popen([sys.executable, "-m", "autogen_doctor", "probe", "/ws/{session}", "--serve", command,
                            "--workers", "1,3", "--preset", "agentchat-team", "--sessions", "6", "--turns", "4",
                            "--seed", "3", "--format", "json"],
                           env={**os.environ, MARKER_NAME: marker}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    out, err = cli.communicate(timeout=180)
    assert wait_until_gone(marker, timeout_s=5) == []
    assert cli.returncode == 1, err
    runs = {run["workers"]: run["result"] for run in json.loads(out)["runs"]}
    assert runs[1]["verdict"] == "inconclusive" and runs[1]["identity"] == "os"
    assert runs[3]["verdict"] == "state-loss" and runs[3]["cause"] == "process-local-state", runs[3]["reason"]
    assert runs[3]["identity"] == "os" and runs[3]["url"].startswith("ws://127.0.0.1:")
    pids = {row["pid"] for row in runs[3]["backends"]}
    assert None not in pids and len(pids) >= 2


def test_serve_refuses_a_full_ws_url(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", "ws://127.0.0.1:9/ws", "--serve",
                           "uvicorn app:api"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "give the endpoint as a path" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
