"""A chat service that streams its reply as JSON lines, one chunk per line, chunks splitting words.

Plain ASGI under real uvicorn with several workers. Memory is shared through a SQLite file
(NDJSON_DB), so every worker recalls every session: a correct probe must PASS it. Each reply is
`you said: <codeword>, <codeword>, ...` cut into 5-character chunks, so no codeword is whole in any
line. NDJSON_TYPE sets the Content-Type (the probe must not rely on it); NDJSON_SHAPE chooses
`{"content": chunk}` (found by the default key search) or `{"delta": {"text": chunk}}` (needs
--reply-path delta.text).
"""

import json
import os
import re
import sqlite3

DB = os.environ["NDJSON_DB"]
MEDIA = os.environ.get("NDJSON_TYPE", "application/x-ndjson")
SHAPE = os.environ.get("NDJSON_SHAPE", "content")
CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")
CHUNK = 5


def _remember(session: str, message: str) -> list[str]:
    with sqlite3.connect(DB, timeout=10) as db:
        db.execute("CREATE TABLE IF NOT EXISTS words (session TEXT, word TEXT)")
        db.executemany("INSERT INTO words VALUES (?, ?)", [(session, word) for word in CODEWORD.findall(message)])
        return [row[0] for row in db.execute("SELECT word FROM words WHERE session = ? ORDER BY rowid", (session,))]


def _line(chunk: str) -> bytes:
    document = {"content": chunk} if SHAPE == "content" else {"delta": {"text": chunk}, "type": "chunk"}
    return json.dumps(document).encode() + b"\n"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(b"content-type", MEDIA.encode()), (b"x-backend-pid", str(os.getpid()).encode())]
    if scope["path"] != "/chat" or scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _line("ready")})
        return
    document = json.loads(body or b"{}")
    words = _remember(str(document.get("session_id")), str(document.get("message", "")))
    text = "you said: " + ", ".join(words)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for start in range(0, len(text), CHUNK):
        await send({"type": "http.response.body", "body": _line(text[start:start + CHUNK]), "more_body": True})
    await send({"type": "http.response.body", "body": b""})
