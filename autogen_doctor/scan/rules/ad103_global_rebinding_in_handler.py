"""`global` rebinding on a request path.

## What it does
Finds a request handler or task (or a helper it calls) that declares `global NAME` and assigns
to it, so each request replaces module state (`global history; history = history + [msg]`).
One-time lazy initialisation (`if _client is None: _client = make_client()`) is not reported.

A global that no other function reads (set and used within one call) is not reported.

## Why is this bad?
The rebound name lives in one process. Other workers and replicas keep their own value, so the
"current" conversation, agent or counter differs from process to process and is lost on restart;
requests of different users also overwrite each other's value.

## Example
```python
last_reply = None

@app.post("/chat")
def chat(req):
    global last_reply
    last_reply = agent_reply(req.message, last_reply)
```

## Use instead
```python
@app.post("/chat")
def chat(req):
    previous = redis.get(f"last_reply:{req.session_id}")
    reply = agent_reply(req.message, previous)
    redis.set(f"last_reply:{req.session_id}", reply)
```
"""

from __future__ import annotations

import re
from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import is_per_process_name
from autogen_doctor.scan.flow.shared import global_read_elsewhere
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, request_trace, store_fix, via


# Globals that hold one configured tool for the process (set up by an init call), not a conversation.
_TOOL_NAME = re.compile(r"(summari[sz]er|service|provider|loader|factory|llm|embedder|embeddings?|retriever|"
                        r"executor|settings|config|model_client)$", re.IGNORECASE)


@rule(code="AD103", name="global-rebinding-in-handler", severity=Severity.WARNING,
      summary="`global` name rebound on a request path (per-process state shared by all users)")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    for ref, module, function, reach in state.entry_points.request_functions():
        seen: set[str] = set()
        for write in function.global_writes:
            if write.lazy_init or write.name in seen or is_per_process_name(write.name) or \
                    _TOOL_NAME.search(write.name) or not global_read_elsewhere(state, module, function, write.name):
                continue
            seen.add(write.name)
            yield make_finding(
                "AD103", Severity.WARNING, module, write.line, write.col,
                f"`global {write.name}` is rebound in `{function.qualname}` on a request path ({via(reach)}); "
                f"its value is per process and shared by every user of that process",
                symbol=write.name,
                trace=request_trace(state, reach, module, write.line, f"rebinds global `{write.name}`"),
                fix=f"Do not keep `{write.name}` in a module global: {store_fix(reach.entry.framework)}.")
