"""The identity middleware under real servers: FastAPI on uvicorn, Flask on gunicorn."""

import contextlib
import os
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from support.services import free_port, stop_process_group, wait_until_ready, uvicorn_service

from autogen_doctor.middleware import BackendIdentityMiddleware, pod_name

pytestmark = pytest.mark.services

ASGI_APP = textwrap.dedent('''
    import os
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from autogen_doctor.middleware import BackendIdentityMiddleware

    api = FastAPI()
    api.add_middleware(BackendIdentityMiddleware)
    started = {"lifespan": False}

    @api.on_event("startup")
    async def mark_started():
        started["lifespan"] = True

    @api.get("/")
    async def root():
        return {"pid": os.getpid(), "lifespan": started["lifespan"]}

    @api.get("/own-pod")
    async def own_pod():
        return JSONResponse({"pid": os.getpid()}, headers={"X-Backend-Pod": "set-by-the-app"})

    @api.get("/missing")
    async def missing():
        return JSONResponse({"error": "nope"}, status_code=404)
''')

WSGI_APP = textwrap.dedent('''
    import os
    from flask import Flask, jsonify
    from autogen_doctor.middleware import BackendIdentityWSGIMiddleware

    app = Flask(__name__)
    app.wsgi_app = BackendIdentityWSGIMiddleware(app.wsgi_app)

    @app.get("/")
    def root():
        return jsonify(pid=os.getpid())
''')


def fresh_get(url: str) -> httpx.Response:
    # A new connection per request, so the kernel can hand it to any worker.
    with httpx.Client(timeout=5.0) as client:
        return client.get(url, headers={"Connection": "close"})


def test_fastapi_under_uvicorn_workers_reports_each_worker_pid_and_the_pod(tmp_path):
    (tmp_path / "asgi_app.py").write_text(ASGI_APP)
    with uvicorn_service("asgi_app:api", workers=3, app_dir=tmp_path, env={"POD_NAME": "pod-test-7"}) as service:
        replies = [fresh_get(service.url + "/") for _ in range(40)]
        own = fresh_get(service.url + "/own-pod")
        missing = fresh_get(service.url + "/missing")

    header_pids = {reply.headers["X-Backend-Pid"] for reply in replies}
    assert all(reply.headers["X-Backend-Pid"] == str(reply.json()["pid"]) for reply in replies)
    assert len(header_pids) >= 2  # several workers served, each naming itself
    assert {reply.headers["X-Backend-Pod"] for reply in replies} == {"pod-test-7"}
    assert all(reply.json()["lifespan"] for reply in replies)  # lifespan events still reach the app
    assert own.headers.get_list("X-Backend-Pod") == ["set-by-the-app"]
    assert missing.status_code == 404 and missing.headers["X-Backend-Pid"] in header_pids | {missing.headers["X-Backend-Pid"]}
    assert missing.headers["X-Backend-Pid"].isdigit()


@contextlib.contextmanager
def gunicorn_service(app_dir, app: str, workers: int, env: dict[str, str]):
    port = free_port()
    # --preload imports the app in the master before forking: a pid taken at import would be wrong.
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--chdir", str(app_dir), "--preload", "--log-level", "warning", app],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(lambda: httpx.get(url + "/", timeout=1.0).status_code == 200, process, "gunicorn")
        yield url, process.pid
    finally:
        stop_process_group(process)


def test_flask_under_gunicorn_workers_reports_each_worker_pid_and_the_pod(tmp_path):
    (tmp_path / "wsgi_app.py").write_text(WSGI_APP)
    env = {key: value for key, value in os.environ.items() if key != "POD_NAME"}
    env["HOSTNAME"] = "host-from-env"
    with gunicorn_service(tmp_path, "wsgi_app:app", workers=3, env=env) as (url, master_pid):
        replies = [fresh_get(url + "/") for _ in range(40)]

    pids = {reply.headers["X-Backend-Pid"] for reply in replies}
    assert all(reply.headers["X-Backend-Pid"] == str(reply.json()["pid"]) for reply in replies)
    assert str(master_pid) not in pids
    assert len(pids) >= 2
    assert {reply.headers["X-Backend-Pod"] for reply in replies} == {"host-from-env"}


def test_websocket_traffic_passes_through_untouched():
    # In process (Starlette's TestClient): frames pass through; the handshake headers are tested below.
    api = FastAPI()
    api.add_middleware(BackendIdentityMiddleware)

    @api.websocket("/ws")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("echo: " + await websocket.receive_text())
        await websocket.close()

    with TestClient(api) as client, client.websocket_connect("/ws") as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "echo: hello"


def test_pod_name_prefers_pod_name_then_hostname(monkeypatch):
    monkeypatch.setenv("POD_NAME", "pod-a")
    monkeypatch.setenv("HOSTNAME", "host-b")
    assert pod_name() == "pod-a"
    monkeypatch.delenv("POD_NAME")
    assert pod_name() == "host-b"
    monkeypatch.delenv("HOSTNAME")
    assert pod_name() == socket.gethostname()


WS_APP = textwrap.dedent('''
    import os
    from fastapi import FastAPI, WebSocket
    from autogen_doctor.middleware import BackendIdentityMiddleware

    api = FastAPI()
    api.add_middleware(BackendIdentityMiddleware)

    @api.get("/")
    async def root():
        return {"pid": os.getpid()}

    @api.websocket("/ws")
    async def pid_over_socket(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(str(os.getpid()))
        await websocket.close()

    @api.websocket("/own-pod")
    async def own_pod(websocket: WebSocket):
        await websocket.accept(headers=[(b"x-backend-pod", b"set-by-the-app")])
        await websocket.close()
''')


def test_websocket_handshake_names_the_worker_that_accepted_it(tmp_path):
    """The 101 answer carries the pid of the worker that holds the socket, under several workers."""
    import asyncio

    from websockets.asyncio.client import connect

    (tmp_path / "ws_app.py").write_text(WS_APP)

    async def handshakes(base: str) -> list[tuple[str, str, str]]:
        # The kernel, not uvicorn, picks the worker for each connection; on a busy host one worker
        # can win many accepts in a row, so keep connecting (bounded) until a second worker shows.
        seen = []
        while len(seen) < 30 or (len({pid for pid, _, _ in seen}) < 2 and len(seen) < 300):
            async with connect(base + "/ws", open_timeout=5) as socket_:
                headers = socket_.response.headers
                seen.append((headers["X-Backend-Pid"], headers["X-Backend-Pod"], await socket_.recv()))
        async with connect(base + "/own-pod", open_timeout=5) as socket_:
            own = socket_.response.headers.get_all("X-Backend-Pod")
        return seen, own

    with uvicorn_service("ws_app:api", workers=3, app_dir=tmp_path, env={"POD_NAME": "pod-ws-3"}) as service:
        seen, own = asyncio.run(handshakes(service.url.replace("http://", "ws://")))

    assert all(header_pid == sent_pid for header_pid, _, sent_pid in seen)
    assert len({header_pid for header_pid, _, _ in seen}) >= 2
    assert {pod for _, pod, _ in seen} == {"pod-ws-3"}
    assert own == ["set-by-the-app"]
