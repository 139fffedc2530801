"""Class attribute used as a conversation store.

## What it does
Finds a container defined in a class body (`class Store: sessions = {}`) that a request handler
or task writes to through the class (`Store.sessions[...]`, `cls.sessions[...]`) or through an
instance that never assigned its own copy (`self.sessions[...]` with no `self.sessions = ...`).

## Why is this bad?
A class attribute is one object per process, shared by every instance and every user. It
behaves like a module-level dict: each worker process and replica has its own copy, so
conversations split across workers and vanish on restart; users of one process can also see
each other's state.

## Example
```python
class ChatMemory:
    history = {}

    def add(self, session_id, message):
        self.history.setdefault(session_id, []).append(message)
```

## Use instead
```python
class ChatMemory:
    def __init__(self, redis):
        self.redis = redis

    async def add(self, session_id, message):
        await self.redis.rpush(f"chat:{session_id}", json.dumps(message))
```
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import container_kind, is_per_process_name
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, request_trace, store_fix, via, where


def _assigned_on_self(module, class_qualname: str, attribute: str) -> bool:
    target = f"self.{attribute}"
    for qualname, function in module.functions.items():
        if function.class_name == class_qualname:
            for assign in function.assigns:
                if target in assign.targets:
                    return True
    return False


@rule(code="AD102", name="class-attribute-store", severity=Severity.WARNING,
      summary="Class attribute container used as a store on a request path (shared per process)")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        for mutation in function.mutations:
            if mutation.how == "attribute assignment":
                continue
            parts = mutation.base.split(".")
            if len(parts) < 2:
                continue
            owner_text, attribute = ".".join(parts[:-1]), parts[-1]
            if owner_text in ("self", "cls"):
                if not function.class_name:
                    continue
                class_module, class_qualname = module, function.class_name
                if owner_text == "self" and _assigned_on_self(module, class_qualname, attribute):
                    continue  # each instance has its own container
            else:
                if function.is_local(parts[0]):
                    continue
                definition = resolver.definition(resolver.canonical(module, function, owner_text), module)
                if definition is None or definition.rest or definition.klass is None:
                    continue
                class_module, class_qualname = definition.module, definition.klass.qualname
            info = class_module.classes.get(class_qualname)
            if info is None or attribute not in info.attrs:
                continue
            assign = info.attrs[attribute]
            kind = container_kind(resolver, class_module, assign.value)
            if kind is None or is_per_process_name(attribute):
                continue
            symbol = f"{info.name}.{attribute}"
            yield make_finding(
                "AD102", Severity.WARNING, module, mutation.line, mutation.col,
                f"class attribute {kind} `{symbol}` ({where(class_module, assign.line)}) is used as a store on a "
                f"request path ({via(reach)}); it is one object per process, shared by every instance",
                symbol=symbol, end_line=mutation.end_line, end_col=mutation.end_col,
                trace=request_trace(state, reach, module, mutation.line, f"writes `{symbol}`"),
                fix=f"Do not keep conversation state in `{symbol}`: {store_fix(reach.entry.framework)}.")
