"""`Mem0Memory` without an explicit `user_id`.

## What it does
Finds `autogen_ext.memory.mem0.Mem0Memory(...)` built without a `user_id=` argument.

## Why is this bad?
Without `user_id`, `Mem0Memory` makes up a fresh `uuid4` in each process. Every worker process,
replica and restart therefore reads and writes a different memory namespace: what one process
remembered is invisible to the others, and all users of one process share one namespace.

## Example
```python
memory = Mem0Memory(is_cloud=True, api_key=key)
```

## Use instead
```python
memory = Mem0Memory(is_cloud=True, api_key=key, user_id=session.user_id)
```
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import autogen_category
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding


@rule(code="AD107", name="mem0-memory-without-user-id", severity=Severity.WARNING,
      summary="Mem0Memory without user_id uses a random per-process user id")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for key, module in project.modules.items():
        if state.entry_points.is_one_off_script(key):
            continue
        for function in module.functions.values():
            for call in function.calls:
                if not call.func.endswith("Mem0Memory"):
                    continue
                found = autogen_category(resolver, module, function, call.func)
                if found is None or found[1] != "Mem0Memory":
                    continue
                if call.kwarg("user_id") is not None or call.kwarg("**") is not None:
                    continue
                yield make_finding(
                    "AD107", Severity.WARNING, module, call.line, call.col,
                    "`Mem0Memory` is built without `user_id`: it defaults to a random uuid4 per process, so each "
                    "worker, replica and restart reads a different memory",
                    symbol="Mem0Memory", end_line=call.end_line, end_col=call.end_col,
                    fix="Pass the user's or session's stable id: `Mem0Memory(..., user_id=session.user_id)`.")
