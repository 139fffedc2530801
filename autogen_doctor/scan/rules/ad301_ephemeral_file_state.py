"""State written to `/tmp` or a working-directory-relative path on a request path.

## What it does
Finds request handlers and tasks (and helpers they call) that write files under `/tmp`,
`tempfile.gettempdir()`, or a path relative to the working directory:
`open(path, "w"/"a")`, `Path.write_text`/`write_bytes`, `Path.open("w")`, `DataFrame.to_csv`/
`to_json`. Paths are followed through local variables and module constants
(`HISTORY_DIR = "/tmp/chats"`). A path read from an environment variable
(`os.environ.get("HISTORY_DIR", "./history")`) lands where the deployment sets it: the finding
names the variable, the manifest line and the mount when a Kubernetes `env:` (or a ConfigMap it reads) or compose
`environment:` puts it on an `emptyDir`, a `tmpfs`, `/tmp` or a folder with no volume, and there
is no finding when it points at a persistent volume (PVC, named or bind volume). Caches and
downloaded models (paths mentioning `cache`, `models`, `huggingface`) are not reported, nor are auto-named temporary files
(`NamedTemporaryFile`, `mkstemp`, a fresh `mkdtemp()` folder) used for one request.

## Why is this bad?
`/tmp` and the working directory are the container's own disk: every replica has a different
one and a restart or redeploy empties it. A conversation saved there is invisible to the next
turn when it lands on another pod, and lost when the pod is replaced.

## Example
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    with open(f"/tmp/{req.session_id}.json", "w") as f:
        json.dump(history, f)
```

## Use instead
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    await redis.set(f"chat:{req.session_id}", json.dumps(history))
```
or a database, or a volume shared by every replica (not `emptyDir`).
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.deploy.envpaths import EPHEMERAL, PERSISTENT
from autogen_doctor.scan.flow.paths import classify, describe
from autogen_doctor.scan.rules._support import analysis, deployed_placement, make_finding, request_trace, via

_OPEN_CALLS = frozenset({"builtins.open", "io.open", "codecs.open", "aiofiles.open", "anyio.open_file"})
_DATAFRAME_WRITES = frozenset({"to_csv", "to_json", "to_parquet", "to_pickle"})


def _is_write_mode(mode) -> bool:
    return mode is not None and mode.kind == "str" and any(flag in (mode.text or "") for flag in "wax+")


@rule(code="AD301", name="ephemeral-file-state", severity=Severity.WARNING,
      summary="State written to /tmp or a working-directory-relative path on a request path")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        for call in function.calls:
            method = call.method
            path = None
            if method in ("open",) and call.receiver_expr is None:
                canonical = resolver.canonical(module, function, call.func)
                if canonical in _OPEN_CALLS and _is_write_mode(call.arg(1, "mode")):
                    path = call.arg(0, "file")
            elif method == "open" and call.receiver_expr is not None:
                canonical = resolver.canonical(module, function, call.func)
                if canonical in _OPEN_CALLS:
                    if _is_write_mode(call.arg(1, "mode")):
                        path = call.arg(0, "file")
                elif _is_write_mode(call.arg(0, "mode")):
                    path = call.receiver_expr
            elif method in ("write_text", "write_bytes") and call.receiver_expr is not None:
                path = call.receiver_expr
            elif method in _DATAFRAME_WRITES and call.args:
                path = call.args[0]
            if path is None:
                continue
            found = classify(resolver, module, function, path, arguments=state.flow.argument_values)
            placement = deployed_placement(state, project, module, function, [path])
            if placement is not None and placement.verdict == PERSISTENT:
                continue  # the deployment puts this path on a volume that outlives the pod
            if placement is not None and placement.verdict == EPHEMERAL:
                yield make_finding(
                    "AD301", Severity.WARNING, module, call.line, call.col,
                    f"`{call.func}` writes under {placement.describe()}, on a request path ({via(reach)}); other "
                    f"replicas cannot see it and a restart loses it",
                    symbol=call.func, end_line=call.end_line, end_col=call.end_col,
                    trace=request_trace(state, reach, module, call.line, f"writes with `{call.func}`",
                                        *placement.steps()),
                    fix=(f"Store the session's data in a shared service (Redis, a database, object storage) keyed by "
                         f"session id, or point `${placement.setting.name}` at a volume every replica mounts (a "
                         f"persistentVolumeClaim or named volume, not `emptyDir`, `tmpfs` or `/tmp`)."))
                continue
            if found is None:
                continue
            yield make_finding(
                "AD301", Severity.WARNING, module, call.line, call.col,
                f"`{call.func}` writes to {describe(found)} on a request path ({via(reach)}); other replicas "
                f"cannot see it and a restart loses it",
                symbol=call.func, end_line=call.end_line, end_col=call.end_col,
                trace=request_trace(state, reach, module, call.line, f"writes with `{call.func}`"),
                fix=("Store the session's data in a shared service (Redis, a database, object storage) keyed by "
                     "session id; if it must be a file, use a volume every replica mounts (not `/tmp`, not "
                     "`emptyDir`)."))
