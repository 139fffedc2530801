"""Team or agent rebuilt from component config per request without `load_state`.

## What it does
Finds a request handler or task that rebuilds an AgentChat team or agent with
`load_component(...)` (from `dump_component()` JSON, as AutoGen Studio does) and runs it without
`await team.load_state(...)`.

## Why is this bad?
A component config carries configuration only (model, tools, participants), never the
conversation. A team rebuilt from it on every request starts empty each time.

## Example
```python
@app.post("/run")
async def run(req: RunRequest):
    team = RoundRobinGroupChat.load_component(json.load(open("team.json")))
    return await team.run(task=req.message)
```

## Use instead
```python
@app.post("/run")
async def run(req: RunRequest):
    team = RoundRobinGroupChat.load_component(TEAM_CONFIG)
    saved = await redis.get(f"team:{req.session_id}")
    if saved:
        await team.load_state(json.loads(saved))
    result = await team.run(task=req.message)
    await redis.set(f"team:{req.session_id}", json.dumps(await team.save_state()))
    return result
```
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.flow import agents as _agent_flow
from autogen_doctor.scan.rules._support import request_trace, analysis, make_finding, via


@rule(code="AD202", name="component-rebuilt-without-state", severity=Severity.WARNING,
      summary="Team rebuilt from load_component per request without load_state (config carries no history)")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    for ref, module, function, reach, flow in _agent_flow.unrestored_request_runs(state):
        for built in flow.built:
            if built.how != "component":
                continue
            yield make_finding(
                "AD202", Severity.WARNING, module, built.line, built.col,
                f"`{built.var}` is rebuilt from component config (`{built.value.dotted}`) on a request path "
                f"({via(reach)}) and run without `load_state`; component config carries no conversation history",
                symbol=built.var,
                trace=request_trace(state, reach, module, built.line, f"rebuilds `{built.var}` from component config"),
                fix=(f"After `load_component`, restore the session: `await {built.var}.load_state(saved_state)` "
                     f"(saved with `await {built.var}.save_state()` in Redis or a database keyed by session id)."))
            break
