"""The plain-ASGI plumbing the serve targets share (they are started with their folder as the
app dir, so they import this as a sibling module)."""


async def read_body(receive) -> bytes:
    """The whole request body, however many messages it came in."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def serve_lifespan(receive, send) -> None:
    """Answer uvicorn's lifespan start-up and shut-down."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
