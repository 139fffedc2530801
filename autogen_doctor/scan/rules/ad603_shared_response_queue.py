"""One module-level queue that every request reads its reply from.

## What it does
Finds a module-level `asyncio.Queue` (also `LifoQueue`/`PriorityQueue`), `queue.Queue`,
`multiprocessing.Queue` or `janus.Queue` that request handlers consume (`await response_queue.get()`),
typically filled by agents running on a module-level runtime, with nothing in the queue's name
or key to tell one request's items from another's.

## Why is this bad?
Two users streaming at the same time read from the same queue: each gets whichever token or
reply comes next, so answers cross between users (a privacy breach, the probe's
`cross-session-leak`), and one request's end-of-stream marker ends the other's stream. Behind
several workers, a reply produced in one process never reaches a request served by another.

## Example
```python
response_queue: asyncio.Queue = asyncio.Queue()

@app.post("/chat")
async def chat(req: ChatRequest):
    await runtime.publish_message(UserTask(req.messages), topic_id=TopicId("chat", "default"))
    async def stream():
        while (item := await response_queue.get()) is not DONE:
            yield item
    return StreamingResponse(stream())
```

## Use instead
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    queue: asyncio.Queue = asyncio.Queue()          # one queue per request
    queues[request_id] = queue                       # the agent puts to queues[ctx.request_id]
    ...
```
or stream from the run itself (`async for event in team.run_stream(task=...)`), or use a
per-conversation channel in Redis (`XADD`/`XREAD` on `stream:{conversation_id}`).
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via

_QUEUES = frozenset({"asyncio.Queue", "asyncio.queues.Queue", "queue.Queue", "queue.SimpleQueue",
                     "multiprocessing.Queue", "janus.Queue", "asyncio.LifoQueue", "asyncio.PriorityQueue"})
_CONSUME = frozenset({"get", "get_nowait"})


@rule(code="AD603", name="shared-response-queue", severity=Severity.ERROR,
      summary="Module-level queue that every request reads its reply from: replies cross between users")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    reported: set[tuple[str, str]] = set()
    for ref, module, function, reach in state.entry_points.request_functions():
        for call in function.calls:
            if call.method not in _CONSUME or not call.receiver or "." in call.receiver or "[" in call.receiver:
                continue
            if function.is_local(call.receiver):
                continue
            found = resolver.module_value(module, function, call.receiver)
            if found is None:
                continue
            definition, value = found
            if value.kind != "call" or resolver.canonical(definition.module, None, value.dotted) not in _QUEUES:
                continue
            marker = (definition.module.path, definition.name)
            if marker in reported:
                continue
            reported.add(marker)
            line = definition.assign.line
            yield make_finding(
                "AD603", Severity.ERROR, definition.module, line, definition.assign.col,
                f"module-level queue `{definition.name}` is read by every request ({via(reach)}, line {call.line}); "
                f"concurrent users take each other's replies, and a reply made in another process never arrives",
                symbol=definition.name,
                trace=state.flow.request_trace(
                    reach, state.flow.step(module, call.line, f"takes the next item from `{definition.name}`"),
                    state.flow.step(definition.module, line, f"`{definition.name}`: one queue for every request")),
                fix=("Give each request its own queue (create it in the handler and hand its id to the agent), "
                     "stream from the run itself (`run_stream`), or use a per-conversation channel in Redis."))
