"""A chat service with no identity at all: no autogen_doctor.middleware, no pid header, no pid in
the body. History lives in a module-level dict per worker process (the classic bug).

For the test only (never part of a reply): with PLAIN_APP_PIDS_DIR set, each process that imports
the app writes one file naming its pid, its parent's pid and its grandparent's pid, so the test
can check that the PIDs the probe reports are the served process or its children.
"""

import json
import os
import re

from asgi_parts import read_body, serve_lifespan

SESSIONS: dict[str, list[str]] = {}
CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


if os.environ.get("PLAIN_APP_PIDS_DIR"):
    me, parent = os.getpid(), os.getppid()
    with open(os.path.join(os.environ["PLAIN_APP_PIDS_DIR"], str(me)), "w", encoding="ascii") as out:
        json.dump({"pid": me, "parent": parent, "grandparent": _parent_of(parent)}, out)


async def api(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["path"] != "/chat":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    payload = json.loads(await read_body(receive))
    words = SESSIONS.setdefault(payload["session_id"], [])
    words += CODEWORD.findall(payload["message"])
    reply = json.dumps({"reply": "I remember: " + ", ".join(words)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": reply})
