"""A service with no identity at all (no middleware, no pid header or field) whose workers come up
one after another, seconds apart, as workers that load a model or warm a cache at import do.

For the test only: STAGGER_DIR names a folder. The n-th process to import the app (counted there
under a lock) sleeps n * STAGGER_S seconds, then writes `ready-<pid>` there, so the test can tell
how many workers were up when `--serve` declared the service ready.
"""

import fcntl
import os
import time

_folder = os.environ["STAGGER_DIR"]
with open(os.path.join(_folder, "count"), "a+", encoding="ascii") as _counter:
    fcntl.flock(_counter, fcntl.LOCK_EX)
    _counter.seek(0)
    _order = len(_counter.read())
    _counter.write("x")
time.sleep(_order * float(os.environ.get("STAGGER_S", "1.5")))
with open(os.path.join(_folder, f"ready-{os.getpid()}"), "w", encoding="ascii") as _ready:
    _ready.write(str(_order))


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
