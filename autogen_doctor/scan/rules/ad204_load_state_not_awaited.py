"""`load_state(...)` called without `await`.

## What it does
Finds `agent.load_state(state)` / `team.load_state(state)` whose result is thrown away without
being awaited, in code that uses AutoGen AgentChat (`autogen_agentchat`, `autogen_core`,
`autogen_ext`).

## Why is this bad?
In AgentChat `load_state` is a coroutine. Calling it without `await` creates the coroutine and
drops it: nothing is restored, and Python only prints a "coroutine was never awaited" warning
that is easy to miss in server logs. The agent then answers with no memory of the session.

## Example
```python
agent.load_state(saved)
result = await agent.run(task=message)
```

## Use instead
```python
await agent.load_state(saved)
result = await agent.run(task=message)
```
"""

from __future__ import annotations

import re
from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import expr_autogen
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding


def _uses_agentchat(module) -> bool:
    targets = list(module.imports.values())
    for function in module.functions.values():
        targets.extend(function.imports.values())
    return any(target.split(".", 1)[0] in autogen_api.MODERN_ROOTS for target in targets)


_AGENT_LIKE = re.compile(r"(agent|team|chat|runtime|assistant|manager|group|swarm|flow|surfer|proxy)", re.IGNORECASE)


def _is_autogen_object(resolver, module, function, receiver: str) -> bool:
    """The receiver is an AgentChat agent/team/runtime: built from one here, or named like one."""
    if receiver in ("self", "cls") or "(" in receiver or "[" in receiver:
        return False
    for assign in function.assigns:
        if assign.targets == (receiver,) and assign.value.kind == "call":
            found = expr_autogen(resolver, module, function, assign.value)
            if found is not None:
                return True
    found = resolver.module_value(module, function, receiver)
    if found is not None and found[1].kind == "call" and expr_autogen(resolver, found[0].module, None, found[1]):
        return True
    return bool(_AGENT_LIKE.search(receiver.rsplit(".", 1)[-1]))


@rule(code="AD204", name="load-state-not-awaited", severity=Severity.ERROR,
      summary="load_state() called without await: nothing is restored")
def check(project) -> Iterator[Finding]:
    resolver = analysis(project).resolver
    for key, module in project.modules.items():
        if not _uses_agentchat(module):
            continue
        for function in module.functions.values():
            for call in function.calls:
                if call.func.endswith(".load_state") and call.statement and not call.awaited \
                        and _is_autogen_object(resolver, module, function, call.receiver):
                    yield make_finding(
                        "AD204", Severity.ERROR, module, call.line, call.col,
                        f"`{call.func}(...)` is not awaited: the coroutine is dropped and no state is restored",
                        symbol=call.receiver, end_line=call.end_line, end_col=call.end_col,
                        fix=f"Write `await {call.func}(...)` (inside an async function).")
