"""A service that misbehaves in every way the probe must survive, one route per way.

A plain ASGI app (no framework) so each route controls exactly what goes on the wire:

- /hang            accepts the request and never answers
- /stream-forever  starts a text/event-stream reply and never ends it
- /sse             a proper event stream whose tokens split codewords across events
- /not-json        an HTML page (status 200)
- /empty           200 with an empty body
- /missing         404 on every turn
- /redirect        302 to another host (the probe must not follow it)
- /cookie          remembers the conversation by a cookie it sets (no session id in the body)
- /conn            answers with the client's source port, to count connections
- /echo            answers with the request's headers (to check what the probe sends)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets

CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")
_by_cookie: dict[str, list[str]] = {}


async def _read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _reply(send, status: int, body: bytes, content_type: bytes = b"application/json", headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"x-backend-pid", str(os.getpid()).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = await _read_body(receive)
    if path == "/":
        await _reply(send, 200, b'{"ok": true}')
    elif path == "/hang":
        # Never answers; returns only once the client gave up, so the server can shut down.
        await _disconnected(receive)
    elif path == "/headers-then-silence":
        # A 200 and its headers, then nothing, as a streaming handler waiting on a queue that a
        # failed agent never feeds (the autogen-core handoffs sample on a model error).
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await _disconnected(receive)
    elif path == "/stream-forever":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        gone = asyncio.ensure_future(_disconnected(receive))
        while not gone.done():
            await send({"type": "http.response.body", "body": b"data: still thinking\n\n", "more_body": True})
            await asyncio.sleep(0.05)
    elif path == "/sse":
        message = json.loads(body)["message"]
        words = ", ".join(CODEWORD.findall(message))
        events = [json.dumps({"choices": [{"delta": {"content": words[i:i + 5]}}]}) for i in range(0, len(words), 5)]
        stream = "".join(f"data: {event}\n\n" for event in events) + "data: [DONE]\n\n"
        await _reply(send, 200, stream.encode(), b"text/event-stream")
    elif path == "/not-json":
        await _reply(send, 200, b"<html><body>Service page</body></html>", b"text/html")
    elif path == "/empty":
        await _reply(send, 200, b"")
    elif path == "/missing":
        await _reply(send, 404, b'{"detail": "Not Found"}')
    elif path == "/redirect":
        await _reply(send, 302, b"", headers=[(b"location", b"http://elsewhere.invalid/chat")])
    elif path == "/cookie":
        cookies = dict(item.split(b"=", 1) for item in _header(scope, b"cookie").split(b"; ") if b"=" in item)
        conversation = cookies.get(b"conversation", b"").decode() or secrets.token_hex(8)
        history = _by_cookie.setdefault(conversation, [])
        history.append(json.loads(body)["message"])
        words = [word for message in history for word in CODEWORD.findall(message)]
        await _reply(send, 200, json.dumps({"reply": ", ".join(words), "conversation": conversation}).encode(),
                     headers=[(b"set-cookie", f"conversation={conversation}; Path=/".encode())])
    elif path == "/conn":
        await _reply(send, 200, b'{"reply": "ok"}', headers=[(b"x-client-port", str(scope["client"][1]).encode())])
    elif path == "/echo":
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        await _reply(send, 200, json.dumps({"reply": "ok", "headers": headers}).encode())
    else:
        await _reply(send, 404, b'{"detail": "Not Found"}')


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _header(scope, name: bytes) -> bytes:
    return b"; ".join(value for key, value in scope["headers"] if key == name)
