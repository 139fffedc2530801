"""AgentChat messages turned into JSON with `json.dumps(message.model_dump())`: the save raises.

## What it does
Finds `json.dumps(...)`, `json.dump(...)` and websocket `send_json(...)` calls given the output of
`model_dump()` (without `mode="json"`, and with no `default=`/`cls=` encoder) of AutoGen AgentChat messages or events: directly
(`send_json(message.model_dump())`) or through a list they were collected in
(`history.append(message.model_dump())` ... `json.dumps(history)`). A value is taken for an
AgentChat message when the flow knows it is one: a parameter typed with an `autogen_agentchat`
class, a value built by one (`TextMessage(...)`, `TextMessage.model_validate(data)`), a loop over
`run_stream(...)`/`on_messages_stream(...)` or over a result's `.messages` (or one of them,
`result.messages[-1]`), or a response's `.chat_message`.

It belongs to the AD2 family (not rehydrated): the symptom is the same. The save raises on
every turn, so nothing is ever persisted and the next turn restores nothing, however carefully
the service was written to reload its history.

## Why is this bad?
From autogen-agentchat 0.6 on every message carries `created_at`, a `datetime`, and
`model_dump()` keeps it as one; `json.dumps` raises `TypeError: Object of type datetime is not
JSON serializable`. Checked on autogen-agentchat 0.7.5 with
`json.dumps(TextMessage(content="x", source="user").model_dump())`. The official
`agentchat_fastapi` sample does this: its history file is never written, and its websocket
stream stops at the first message.

## Example
```python
history.append(response.chat_message.model_dump())
with open(history_path, "w") as f:
    f.write(json.dumps(history))
```

## Use instead
```python
history.append(response.chat_message.model_dump(mode="json"))   # datetimes become ISO strings
# or message.dump(), which AgentChat messages provide for exactly this
# or persist the agent/team itself: json.dumps(await team.save_state()) is JSON-safe
```
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.facts import Call, Function, ModuleFacts
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via

_JSON_WRITERS = frozenset({"json.dumps", "json.dump"})
_STREAMS = ("run_stream", "on_messages_stream", ".messages", "inner_messages", "chat_messages")


def _imports_agentchat(module: ModuleFacts) -> bool:
    return any(target.split(".", 1)[0] == "autogen_agentchat" for target in module.imports.values()) or any(
        target.split(".", 1)[0] == "autogen_agentchat"
        for function in module.functions.values() for target in function.imports.values())


def _is_json_writer(state, module: ModuleFacts, function: Function, call: Call) -> bool:
    if call.method == "send_json":
        return True
    return state.resolver.canonical(module, function, call.func) in _JSON_WRITERS


def _dumps_without_json_mode(call: Call) -> bool:
    if call.method != "model_dump" or not call.receiver:
        return False
    mode = call.kwarg("mode")
    return mode is None or (mode.kind == "str" and mode.text != "json")


def is_agentchat_message(state, module: ModuleFacts, function: Function, text: str, depth: int = 0) -> bool:
    """Does `text` (a model_dump receiver) hold an AgentChat message or event?"""
    if depth > 3 or not text:
        return False
    if text.endswith(".chat_message") or text.endswith("chat_message") or text.endswith(".messages[]"):
        return True  # a Response's chat_message, a TaskResult's messages[i]
    head = text.split(".", 1)[0].split("[", 1)[0]
    if head != text:
        return False
    resolver = state.resolver
    for name, type_text, _ in function.param_info:
        if name == head and type_text:
            return resolver.canonical(module, function, type_text).startswith("autogen_agentchat.")
    for assign in reversed(function.assigns):
        if head not in assign.targets:
            continue
        value = assign.value
        if assign.how == "for":
            texts = [value.dotted or ""] + list(value.calls)
            if any(marker in item for item in texts for marker in _STREAMS):
                return True
            if value.kind == "name":
                return _produces_stream(function, value.dotted)
            return False
        if value.kind == "call":
            owner = value.dotted.rsplit(".", 1)[0] if value.dotted.endswith((".model_validate", ".load")) else value.dotted
            return resolver.canonical(module, function, owner).startswith("autogen_agentchat.")
        if value.kind in ("name", "attr") and value.dotted != text:
            return is_agentchat_message(state, module, function, value.dotted, depth + 1)
        return False
    return False


def _produces_stream(function: Function, name: str) -> bool:
    for assign in function.assigns:
        if assign.targets == (name,) and assign.value.kind == "call" and \
                assign.value.dotted.endswith(("run_stream", "on_messages_stream")):
            return True
    return False


@rule(code="AD205", name="unsaveable-agentchat-messages", severity=Severity.WARNING,
      summary="json.dumps / send_json of AgentChat message.model_dump(): raises on created_at, history never saved")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    reach_of = state.entry_points.reach
    for key, module in sorted(project.modules.items()):
        if not _imports_agentchat(module):
            continue
        for function in module.functions.values():
            dumps = [call for call in function.calls if _dumps_without_json_mode(call)
                     and is_agentchat_message(state, module, function, call.receiver)]
            if not dumps:
                continue
            writers = [call for call in function.calls if _is_json_writer(state, module, function, call)]
            # Lists the dumps were collected in: `history.append(message.model_dump())`.
            collected: dict[str, Call] = {}
            for call in function.calls:
                if call.method in ("append", "extend", "insert") and call.receiver.isidentifier():
                    for dump in dumps:
                        if _inside(dump, call) and not _wrapped(function, dump, call):
                            collected.setdefault(call.receiver, dump)
            for assign in function.assigns:
                for dump in dumps:
                    if assign.line == dump.line and len(assign.targets) == 1 and assign.targets[0].isidentifier() \
                            and assign.value.kind in ("comp", "list"):
                        collected.setdefault(assign.targets[0], dump)
            reported: set[int] = set()
            for writer in writers:
                if writer.kwarg("default") is not None or writer.kwarg("cls") is not None:
                    continue  # `json.dumps(..., default=str)` turns datetimes into text
                culprit = next((dump for dump in dumps if _inside(dump, writer)
                                and not _wrapped(function, dump, writer)), None)
                how = ""
                if culprit is None:
                    names = [name for name in writer.arg_names if name in collected]
                    if not names:
                        continue
                    culprit = collected[names[0]]
                    how = f"`{names[0]}`, which holds "
                if writer.line in reported:
                    continue
                reported.add(writer.line)
                reach = reach_of.get((key, function.qualname))
                where = f" on a request path ({via(reach)})" if reach is not None else ""
                steps = [state.flow.step(module, culprit.line, f"`{culprit.func}()` keeps `created_at` a datetime"),
                         state.flow.step(module, writer.line, f"`{writer.func}` raises TypeError")]
                trace = state.flow.request_trace(reach, *steps) if reach is not None else tuple(steps)
                yield make_finding(
                    "AD205", Severity.WARNING, module, writer.line, writer.col,
                    f"`{writer.func}` is given {how}`{culprit.func}()` output of AgentChat messages{where}; "
                    f"`created_at` is a datetime, so it raises TypeError and the history is never saved or sent",
                    symbol=culprit.receiver, end_line=writer.end_line, end_col=writer.end_col, trace=trace,
                    fix=(f"Use `{culprit.receiver}.model_dump(mode=\"json\")` (or `{culprit.receiver}.dump()`), or save "
                         f"the agent/team with `await team.save_state()`, which is JSON-safe."))


def _wrapped(function: Function, dump: Call, outer: Call) -> bool:
    """Is the dump passed through another call first (`send_json(jsonable_encoder(m.model_dump()))`)?"""
    return any(call is not dump and call is not outer and _inside(dump, call) and _inside(call, outer)
               for call in function.calls)


def _inside(inner: Call, outer: Call) -> bool:
    """Is `inner`'s span within `outer`'s (nested in its arguments)?"""
    if inner is outer:
        return False
    start = (outer.line, outer.col)
    end = (outer.end_line, outer.end_col)
    return start <= (inner.line, inner.col) and (inner.end_line, inner.end_col) <= end
