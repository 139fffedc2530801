"""The service helpers themselves: a real nginx spreads turns over two real uvicorn pods."""

import httpx

from support.services import nginx_round_robin, uvicorn_service


def test_nginx_round_robin_reaches_both_upstreams(tmp_path):
    (tmp_path / "pidapp.py").write_text(
        "import os\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200,\n"
        "                'headers': [(b'x-backend-pid', str(os.getpid()).encode())]})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    with uvicorn_service("pidapp:app", app_dir=tmp_path) as pod_a, \
            uvicorn_service("pidapp:app", app_dir=tmp_path) as pod_b, \
            nginx_round_robin([pod_a.port, pod_b.port]) as balancer:
        pids = {httpx.get(balancer).headers["x-backend-pid"] for _ in range(6)}
    assert len(pids) == 2
