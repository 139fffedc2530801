"""A chat service that keeps each session's history in a module-level dict (the classic bug).

Plain ASGI, so it starts fast under any worker count. Every reply lists every message of the
session this process has seen, and names the process in X-Backend-Pid.
Test knobs (environment): SERVE_TARGET_DELAY_S sleeps before each chat reply;
SERVE_TARGET_TOUCH is a file that gets one line per chat request; SERVE_TARGET_STAGGER_DIR
makes the n-th worker to import this module wait n seconds first (workers come up one by one);
SERVE_TARGET_ANONYMOUS=1 leaves out the X-Backend-Pid header.
"""

import asyncio
import json
import os
import time

from asgi_parts import read_body, serve_lifespan

SESSIONS: dict[str, list[str]] = {}
DELAY_S = float(os.environ.get("SERVE_TARGET_DELAY_S", "0") or 0)
TOUCH = os.environ.get("SERVE_TARGET_TOUCH")
STAGGER_DIR = os.environ.get("SERVE_TARGET_STAGGER_DIR")
ANONYMOUS = os.environ.get("SERVE_TARGET_ANONYMOUS") == "1"

if STAGGER_DIR:
    # mkdir is atomic: each worker claims the next free number and waits that many seconds.
    for position in range(64):
        try:
            os.mkdir(os.path.join(STAGGER_DIR, str(position)))
            break
        except FileExistsError:
            continue
    time.sleep(position)


async def api(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    headers = [(b"content-type", b"application/json")]
    if not ANONYMOUS:
        headers.append((b"x-backend-pid", str(os.getpid()).encode()))
    if scope["path"] != "/chat" or scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"detail": "not found"}'})
        return
    request = json.loads(await read_body(receive) or b"{}")
    if TOUCH:
        with open(TOUCH, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    if DELAY_S:
        await asyncio.sleep(DELAY_S)
    history = SESSIONS.setdefault(str(request.get("session_id")), [])
    history.append(str(request.get("message", "")))
    reply = json.dumps({"reply": " | ".join(history)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reply})
