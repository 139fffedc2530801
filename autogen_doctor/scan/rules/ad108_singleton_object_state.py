"""Conversation state in a container on an object that serves the whole process.

## What it does
Finds a project object that exists once per process (a module-level instance, an instance
returned by a module-level getter, an `@lru_cache`/`@cache` getter, a class-level `_instance`,
or a FastAPI `Depends(get_manager)` that returns one of those) whose `self.<attr>` dict, list or
cache is written on a request path: directly (`manager.sessions[sid] = team`) or through its
methods (`service.get_agent(conversation_id)` that fills `self.agents`). Containers named for
per-process things (clients, connections, locks, metrics, sockets, tools) are not reported.

## Why is this bad?
A singleton is module-level state with extra steps: one object per worker process. With
several workers or replicas each has its own `sessions` dict, so a conversation started on one
worker is unknown on the next, and every restart or deploy forgets all of them.

## Example
```python
class ChatService:
    def __init__(self):
        self.teams = {}

    def get_team(self, session_id):
        if session_id not in self.teams:
            self.teams[session_id] = build_team()
        return self.teams[session_id]

service = ChatService()

@app.post("/chat")
async def chat(req: ChatRequest):
    team = service.get_team(req.session_id)
    return await team.run(task=req.message)
```

## Use instead
```python
class ChatService:
    async def run(self, session_id, message):
        team = build_team()
        saved = await redis.get(f"team:{session_id}")
        if saved:
            await team.load_state(json.loads(saved))
        result = await team.run(task=message)
        await redis.set(f"team:{session_id}", json.dumps(await team.save_state()))
        return result
```
Keep clients, engines, pools and locks on the singleton; keep conversations in a shared store.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.entrypoints import CONVERSATION_KEY
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import STATE_NAME, is_per_process_name
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, request_trace, store_fix, via, where


@rule(code="AD108", name="singleton-object-state", severity=Severity.WARNING,
      summary="Container on a once-per-process object written on a request path")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    objects = state.flow.objects
    reported: set[tuple] = set()
    for ref, module, function, reach in state.entry_points.request_functions():
        # `manager.sessions[sid] = team`
        for mutation in function.mutations:
            if mutation.how == "attribute assignment":
                continue
            head, _, attr = mutation.base.partition(".")
            if not attr or "." in attr or head in ("self", "cls"):
                continue
            instance = objects.instance_of(module, function, head)
            if instance is None or instance.shared is None:
                continue
            found = objects.container_attrs(instance.module, instance.klass).get(attr)
            if found is None or is_per_process_name(attr) or not _conversation_like(attr, function):
                continue
            marker = (instance.klass.qualname, attr, module.path, mutation.line)
            if marker in reported:
                continue
            reported.add(marker)
            yield _finding(state, module, mutation.line, mutation.col, instance, attr, found, reach,
                           request_trace(state, reach, module, mutation.line, f"writes `{head}.{attr}`",
                                         *_origin(state, instance)))
        # `service.get_agent(conversation_id)` that fills `self.agents`
        for call in function.calls:
            receiver = call.receiver
            if not receiver or receiver in ("self", "cls") or "[" in receiver:
                continue
            instance = objects.instance_of(module, function, receiver)
            if instance is None or instance.shared is None:
                continue
            target = resolver.method(instance.module, instance.klass.qualname, call.method)
            if target is None:
                continue
            method_module, method = resolver.function(target)
            containers = objects.container_attrs(instance.module, instance.klass)
            for attr, write_module, writer, mutation, chain in objects.self_writes(method_module, method):
                found = containers.get(attr)
                if found is None or is_per_process_name(attr) or not _conversation_like(attr, writer, method):
                    continue
                marker = (instance.klass.qualname, attr, write_module.path, mutation.line)
                if marker in reported:
                    continue
                reported.add(marker)
                steps = [state.flow.step(module, call.line, f"calls `{call.func}()`")]
                steps += [state.flow.step(hop_module, line, f"calls `{callee}`") for hop_module, line, callee in chain]
                steps.append(state.flow.step(write_module, mutation.line, f"writes `self.{attr}` ({mutation.how})"))
                steps += _origin(state, instance)
                yield _finding(state, write_module, mutation.line, mutation.col, instance, attr, found, reach,
                               state.flow.request_trace(reach, *steps))


def _conversation_like(attr: str, *functions) -> bool:
    """A container of conversations: named like one, or written by code that takes a conversation
    key. A prompt or file cache filled by `load(name)` is neither."""
    if STATE_NAME.search(attr):
        return True
    return any(CONVERSATION_KEY.match(param) for function in functions for param in function.params)


def _origin(state, instance) -> list:
    step = state.flow.instance_step(instance)
    return [step] if step is not None else []


def _finding(state, module, line, col, instance, attr, found, reach, trace) -> Finding:
    kind, assigned_line = found
    symbol = f"{instance.klass.name}.{attr}"
    return make_finding(
        "AD108", Severity.WARNING, module, line, col,
        f"{kind} `self.{attr}` of `{instance.klass.name}` ({where(instance.module, assigned_line)}) is written on a "
        f"request path ({via(reach)}); there is one `{instance.klass.name}` per process ({instance.shared}), so each "
        f"worker process and replica keeps its own copy",
        symbol=symbol, trace=trace,
        fix=f"Keep conversations out of `{symbol}`: {store_fix(reach.entry.framework)}.")
