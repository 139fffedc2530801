"""A chat service that keeps each session's history in a Redis list (REDIS_URL): survives any
worker count. Plain ASGI; names the process in X-Backend-Pid."""

import json
import os

import redis.asyncio as redis

from asgi_parts import read_body, serve_lifespan

STORE = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


async def api(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    headers = [(b"x-backend-pid", str(os.getpid()).encode()), (b"content-type", b"application/json")]
    if scope["path"] != "/chat" or scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"detail": "not found"}'})
        return
    request = json.loads(await read_body(receive) or b"{}")
    key = f"serve-target:{request.get('session_id')}"
    await STORE.rpush(key, str(request.get("message", "")))
    history = await STORE.lrange(key, 0, -1)
    reply = json.dumps({"reply": " | ".join(history)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reply})
