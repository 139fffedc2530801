"""Conversation state loaded and saved at a key or path that no request value reaches.

## What it does
Finds state that request handlers (or helpers they call) both read and write at one fixed
place: a file path or a Redis key that is a constant for every request (a string, a module
constant, an `os.getenv("NAME", default)` default, `os.path.join`/`Path(...) / "x"` of those,
an f-string with no variable part). Only places named like conversation state are reported
(`state`, `history`, `memory`, `messages`, `conversation`, `chat`, `session`, `thread`, ...),
so a configuration file that is only read, or a log only written, is not.

## Why is this bad?
Every user loads and saves the same conversation: user B's next turn continues user A's
chat, sees A's words, and overwrites A's history. It is the static side of the probe's
`cross-session-leak` cause, a privacy breach whatever the number of workers, hence an error.

## Example
```python
STATE_FILE = "agent_state.json"

@app.post("/chat")
async def chat(request: TextMessage):
    agent = AssistantAgent("assistant", model_client=client)
    if os.path.exists(STATE_FILE):
        with open(STATE_FILE) as f:
            await agent.load_state(json.load(f))
    response = await agent.on_messages([request], CancellationToken())
    with open(STATE_FILE, "w") as f:
        json.dump(await agent.save_state(), f)
```

## Use instead
```python
@app.post("/chat/{session_id}")
async def chat(session_id: str, request: TextMessage):
    agent = AssistantAgent("assistant", model_client=client)
    saved = await redis.get(f"agent_state:{session_id}")
    if saved:
        await agent.load_state(json.loads(saved))
    response = await agent.on_messages([request], CancellationToken())
    await redis.set(f"agent_state:{session_id}", json.dumps(await agent.save_state()))
```
Key every load and save by the conversation (a session id the client sends, or the logged-in user).
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.stores import FILE, READ, WRITE, is_state_like
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via


def _runs_in_the_service(state, module, function) -> bool:
    """Can a write off the request paths still run during a turn? When the project calls the
    function, hands it over by name (a callback, a registered reply function), or it is a method
    of an AutoGen agent subclass (AutoGen calls its `send`/reply overrides itself)."""
    from autogen_doctor.scan import autogen_api

    resolver = state.resolver
    if state.flow.callers((resolver.key_of[id(module)], function.qualname)):
        return True
    if function.class_name:
        info = module.classes.get(function.class_name)
        if info is not None and any(autogen_api.category(base) is not None
                                    for base in resolver.class_canonical_bases(module, info)):
            return True
    name = function.name
    return any(name in call.arg_names or call.func == name
               for other_module in resolver.modules.values() for other in other_module.functions.values()
               if other is not function for call in other.calls)


@rule(code="AD601", name="fixed-key-conversation-state", severity=Severity.ERROR,
      summary="Conversation state read and written at one fixed key or path shared by every user")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    stores = state.flow.stores
    places: dict[tuple[str, str], dict[str, list]] = {}
    reach_of = state.entry_points.reach
    # Every function of the modules that serve requests, not only request paths: AutoGen calls
    # some of your code itself (a `send` override, a reply hook), so a save there is still part of
    # the turn. At least one side of the pair must be on a request path (checked below).
    serving = {ref[0] for ref in reach_of}  # modules with code on a request path; libraries have none
    for key, module in state.resolver.modules.items():
        if key not in serving:
            continue
        for function in module.functions.values():
            reach = reach_of.get((key, function.qualname))
            for operation in stores.operations(module, function):
                constant = operation.key.constant
                if constant is None or not is_state_like(constant):
                    continue
                found = places.setdefault((operation.kind, constant), {READ: [], WRITE: []})
                found[READ if operation.op == READ else WRITE].append((module, function, reach, operation))
    for (kind, constant), found in sorted(places.items()):
        if not found[READ] or not found[WRITE]:
            continue
        on_request = [item for item in (*found[READ], *found[WRITE]) if item[2] is not None]
        if not on_request:
            continue  # a script or a start-up step, not something users share
        reads = sorted(found[READ], key=lambda item: item[2] is None)  # one on a request path first
        read_module, _, _, read = reads[0]
        seen_lines: set[tuple[str, int]] = set()
        for module, function, reach, write in found[WRITE]:
            marker = (module.path, write.call.line)
            if marker in seen_lines:
                continue
            if reach is None and not _runs_in_the_service(state, module, function):
                continue  # a writer nothing in the service calls (a legacy repository class): no turn saves there
            seen_lines.add(marker)
            reach = reach or on_request[0][2]
            what = f"file `{constant}`" if kind == FILE else f"key `{constant}`"
            steps = [state.flow.step(module, write.call.line, f"saves to {what}"),
                     state.flow.step(read_module, read.call.line, f"loads from the same {what}")]
            if write.key.origin is not None:
                origin_module, origin_line = write.key.origin
                steps.append(state.flow.step(origin_module, origin_line, "the key is a constant: the same for every request"))
            yield make_finding(
                "AD601", Severity.ERROR, module, write.call.line, write.call.col,
                f"conversation state is saved to the fixed {what} and loaded from it "
                f"({read_module.display or read_module.path}:{read.call.line}) on a request path ({via(reach)}); no "
                f"session or user value reaches the {'path' if kind == FILE else 'key'}, so every user continues the "
                f"same conversation",
                symbol=constant, end_line=write.call.end_line, end_col=write.call.end_col,
                trace=state.flow.request_trace(reach, *steps),
                fix=("Key the state by the conversation: take a session id (or the user) from the request and use it "
                     "in the key, e.g. `redis.set(f\"state:{session_id}\", ...)` or "
                     "`open(STATE_DIR / f\"{session_id}.json\", \"w\")` on shared storage."))
