"""Chat services whose storage behaviour differs, for the probe's real-service tests.

The "LLM" is a stand-in that answers like a perfect model would: it lists every codeword found
in the history it was given. So what the reply recalls is exactly what the storage kept.
One route per storage behaviour (`POST /<store>`, body `{"session_id", "message"}`):

- memory      history in a module-level dict (per process: splits under several workers)
- norestore   history written to Redis but never read back (every request starts empty)
- redis       Redis list, RPUSH then LRANGE (shared, atomic): remembers everything
- window      Redis list trimmed to the latest $WINDOW messages (LTRIM): a window
- racy        Redis GET, a pause, append in Python, SET: concurrent turns overwrite each other
- shared      one Redis list for every session: another user's words leak into replies
- flaky       like `redis`, but 1 request in 4 (a Redis counter, across workers) fails with 500
              before anything is stored

Identity: headers X-Backend-Pid / X-Backend-Pod by default; with `?identity=body` the pid and pod
go into the JSON reply under `served_by` instead and no identity header is sent; `?identity=none`
sends no identity at all. $FAKE_PID replaces the real pid (two single-worker "pods" that are
both PID 1, as in Kubernetes) and $POD_NAME names the pod. Settings come from the environment:
REDIS_URL, KEY_PREFIX (keeps tests apart on one Redis), WINDOW, RACE_PAUSE_S.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")
PREFIX = os.environ.get("KEY_PREFIX", "chat")
WINDOW = int(os.environ.get("WINDOW", "2"))
RACE_PAUSE_S = float(os.environ.get("RACE_PAUSE_S", "0.05"))

_memory: dict[str, list[str]] = {}
_redis = None


def redis_client():
    global _redis
    if _redis is None:
        _redis = aioredis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    return _redis


def model_reply(history: list[str]) -> str:
    """What a perfect model answers when asked for every codeword in the conversation."""
    words: list[str] = []
    for message in history:
        for word in CODEWORD.findall(message):
            if word not in words:
                words.append(word)
    return "The codewords so far are: " + (", ".join(words) if words else "none") + "."


async def memory(session: str, message: str) -> list[str]:
    history = _memory.setdefault(session, [])
    history.append(message)
    return list(history)


async def norestore(session: str, message: str) -> list[str]:
    await redis_client().rpush(f"{PREFIX}:norestore:{session}", message)
    return [message]  # the agent is rebuilt for each request and nothing is loaded into it


async def redis_list(session: str, message: str) -> list[str]:
    key = f"{PREFIX}:redis:{session}"
    await redis_client().rpush(key, message)
    return await redis_client().lrange(key, 0, -1)


async def window(session: str, message: str) -> list[str]:
    key = f"{PREFIX}:window:{session}"
    client = redis_client()
    await client.rpush(key, message)
    await client.ltrim(key, -WINDOW, -1)
    return await client.lrange(key, 0, -1)


async def racy(session: str, message: str) -> list[str]:
    key = f"{PREFIX}:racy:{session}"
    client = redis_client()
    stored = await client.get(key)
    history = json.loads(stored) if stored else []
    await asyncio.sleep(RACE_PAUSE_S)  # the model call between read and write
    history.append(message)
    await client.set(key, json.dumps(history))
    return history


async def shared(session: str, message: str) -> list[str]:
    key = f"{PREFIX}:shared"  # the bug: one history for everybody
    await redis_client().rpush(key, message)
    return await redis_client().lrange(key, 0, -1)


async def flaky(session: str, message: str) -> list[str] | None:
    count = await redis_client().incr(f"{PREFIX}:flaky:count")
    if count % 4 == 0:
        return None
    return await redis_list(session, message)


STORES = {"memory": memory, "norestore": norestore, "redis": redis_list, "window": window,
          "racy": racy, "shared": shared, "flaky": flaky}


def identity() -> tuple[str, str | None]:
    return os.environ.get("FAKE_PID") or str(os.getpid()), os.environ.get("POD_NAME")


async def chat(request: Request) -> Response:
    store = STORES.get(request.path_params["store"])
    if store is None:
        return JSONResponse({"error": "no such store"}, status_code=404)
    data = await request.json()
    history = await store(str(data["session_id"]), str(data["message"]))
    pid, pod = identity()
    mode = request.query_params.get("identity", "headers")
    headers = {}
    if mode == "headers":
        headers["X-Backend-Pid"] = pid
        if pod:
            headers["X-Backend-Pod"] = pod
    if history is None:
        return JSONResponse({"error": "upstream model overloaded"}, status_code=500, headers=headers)
    body = {"reply": model_reply(history)}
    if mode == "body":
        body["served_by"] = {"pid": pid, "pod": pod}
    return JSONResponse(body, headers=headers)


async def health(request: Request) -> Response:
    # Names its process so the tests can wait until every worker is up.
    return JSONResponse({"ok": True}, headers={"X-Backend-Pid": identity()[0]})


app = Starlette(routes=[Route("/", health), Route("/{store}", chat, methods=["POST"])])
