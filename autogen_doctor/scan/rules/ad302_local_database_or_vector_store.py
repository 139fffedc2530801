"""SQLite database or vector store on container-local or temporary disk.

## What it does
Finds SQLite databases (`sqlite3.connect`, `aiosqlite.connect`, `create_engine("sqlite:///...")`,
`shelve.open`, `SqliteDict`) and vector stores (`chromadb.PersistentClient`, LangChain
`Chroma(persist_directory=...)`, FAISS `save_local`) whose path is under `/tmp`, relative to the
working directory, or in memory (`:memory:`); AutoGen's `ChromaDBVectorMemory` with a
`PersistentChromaDBVectorMemoryConfig` left at its default `./chroma_db`; and classic
`Teachability` left at its default `./tmp/teachable_agent_db`.

## Why is this bad?
A database file on the container's own disk is per pod: replicas each have a different copy,
and a restart or redeploy loses it. An in-memory SQLite database is per process. Memories and
history stored there reappear only when the same pod (or process) serves the user again.

## Example
```python
memory = ChromaDBVectorMemory(config=PersistentChromaDBVectorMemoryConfig(collection_name="notes"))
conn = sqlite3.connect("chat.db")
```

## Use instead
```python
memory = ChromaDBVectorMemory(config=HttpChromaDBVectorMemoryConfig(host="chroma", port=8000))
engine = create_engine(os.environ["DATABASE_URL"])  # a database server every replica uses
```
"""

from __future__ import annotations

import re

from typing import Iterator

from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.deploy.envpaths import EPHEMERAL, PERSISTENT
from autogen_doctor.scan.flow.paths import RELATIVE, classify, classify_string, describe, through_name
from autogen_doctor.scan.rules._support import analysis, deployed_placement, make_finding

_SQLITE = frozenset({"sqlite3.connect", "aiosqlite.connect", "sqlite3.dbapi2.connect"})
_FILE_DBS = frozenset({"shelve.open", "dbm.open", "sqlitedict.SqliteDict", "tinydb.TinyDB"})
_ENGINES = frozenset({"sqlalchemy.create_engine", "sqlalchemy.ext.asyncio.create_async_engine",
                      "sqlmodel.create_engine"})

_LAST_NAMES = ("connect", "create_engine", "create_async_engine", "open", "SqliteDict", "TinyDB",
               "PersistentClient", "Chroma", "ChromaDBVectorMemory", "Teachability", "save_local")

_FIX = ("Use a database or vector store server every replica reaches (Postgres/MySQL via DATABASE_URL, Redis, "
        "an HTTP Chroma server via `HttpChromaDBVectorMemoryConfig`), or a volume shared by all replicas.")


def _sqlite_url(text: str) -> tuple[str, str] | None:
    if not text.startswith("sqlite"):
        return None
    rest = text.split("://", 1)[1] if "://" in text else ""
    if rest in ("", "/", "/:memory:"):
        return "memory", text
    # sqlite:///relative.db has three slashes, sqlite:////absolute.db four
    location = rest[1:] if rest.startswith("/") else rest
    return classify_string(location)


_WRITING_SQL = re.compile(r"^\s*(insert|update|delete|create|replace|upsert|alter|drop)\b", re.IGNORECASE)
_WRITING_CALLS = frozenset({"commit", "executescript", "executemany"})


def _module_writes_sql(module) -> bool:
    """Does the module that opens a SQLite file ever write to a database: `commit()`,
    `executescript`/`executemany`, or an INSERT/UPDATE/DELETE/CREATE statement among its strings?"""
    for function in module.functions.values():
        for call in function.calls:
            if call.method in _WRITING_CALLS:
                return True
            for argument in (*call.args, *(value for _, value in call.kwargs)):
                if any(_WRITING_SQL.match(text) for text in (argument.text or "", *argument.strings) if text):
                    return True
        for assign in function.assigns:
            if assign.value is not None and any(_WRITING_SQL.match(text) for text in assign.value.strings if text):
                return True
    return False


def _constant_text(resolver, module, function, value, depth: int = 0, arguments=None) -> str | None:
    """The string a URL argument holds: a literal, what a name holds (a local's last assignment or a
    module constant, `DATABASE_URL = "sqlite:///./app.db"`, followed by the flow's `through_name`),
    or a settings object's field default (`settings.DATABASE_URI` with `class Settings(BaseSettings):
    DATABASE_URI: str = "sqlite:///..."`)."""
    if value is None or depth > 6:
        return None
    if value.kind == "str":
        return value.text or None
    scope = None if function is None or function.qualname == "<module>" else function
    if value.kind == "attr" and value.dotted.count(".") == 1 and not value.dotted.startswith("self."):
        holder, field_name = value.dotted.split(".")
        found = resolver.module_value(module, scope, holder)
        if found is None or found[1].kind != "call":
            return None
        definition = resolver.definition(resolver.canonical(found[0].module, None, found[1].dotted), found[0].module)
        if definition is None or definition.klass is None or definition.rest:
            return None
        default = definition.klass.attrs.get(field_name)
        return _constant_text(resolver, definition.module, None, default.value if default else None, depth + 1)
    if value.kind in ("name", "attr"):
        return through_name(resolver, module, scope, value, depth, arguments, _constant_text)
    return None


@rule(code="AD302", name="local-database-or-vector-store", severity=Severity.WARNING,
      summary="SQLite / Chroma / Teachability storage on container-local, temporary or in-memory storage")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for key, module in project.modules.items():
        if state.entry_points.is_one_off_script(key):
            continue
        for function in module.functions.values():
            scope = None if function.qualname == "<module>" else function
            for call in function.calls:
                if not call.func.endswith(_LAST_NAMES):
                    continue
                last = call.func.rsplit(".", 1)[-1]
                if last not in ("connect", "create_engine", "create_async_engine", "open", "SqliteDict", "TinyDB",
                                "PersistentClient", "Chroma", "ChromaDBVectorMemory", "Teachability", "save_local"):
                    continue
                canonical = resolver.canonical(module, scope, call.func)
                found = None
                what = call.func
                seen_paths: list = []  # path expressions looked at, to ask the deployment about their env vars

                def classify_noting(target, seen_paths=seen_paths, module=module, scope=scope):
                    seen_paths.append(target)
                    return classify(resolver, module, scope, target)

                if canonical in _SQLITE and not _module_writes_sql(module):
                    continue  # a dataset the service only queries: nothing of a conversation is kept there
                if canonical in _SQLITE or canonical in _FILE_DBS:
                    target = call.arg(0, "database" if canonical in _SQLITE else "filename")
                    if target is not None and target.kind == "str" and target.text == ":memory:":
                        found = ("memory", ":memory:")
                    else:
                        found = classify_noting(target)
                elif canonical in _ENGINES:
                    url = _constant_text(resolver, module, function, call.arg(0, "url"))
                    if url:
                        found = _sqlite_url(url)
                elif canonical.startswith("chromadb.") and last == "PersistentClient":
                    target = call.arg(0, "path")
                    found = (RELATIVE, "./chroma (default)") if target is None else classify_noting(target)
                elif last == "Chroma" and canonical.startswith(("langchain", "langchain_chroma", "langchain_community")):
                    found = classify_noting(call.kwarg("persist_directory"))
                elif last == "save_local" and call.args:
                    found = classify_noting(call.args[0])
                elif last == "ChromaDBVectorMemory" and canonical.startswith("autogen_ext"):
                    config = call.arg(0, "config")
                    candidates = [config] if config is not None else []
                    if config is not None and config.kind == "name":
                        candidates += [a.value for a in function.assigns if a.targets == (config.dotted,)]
                        module_value = resolver.module_value(module, scope, config.dotted)
                        if module_value is not None:
                            candidates.append(module_value[1])
                    for candidate in candidates:
                        if candidate.kind == "call" and candidate.dotted.endswith("PersistentChromaDBVectorMemoryConfig"):
                            path = candidate.kwarg("persistence_path")
                            found = (RELATIVE, "./chroma_db (default persistence_path)") if path is None else \
                                classify_noting(path)
                elif last == "Teachability" and canonical.split(".", 1)[0] in ("autogen", "ag2"):
                    path = call.kwarg("path_to_db_dir")
                    found = (RELATIVE, "./tmp/teachable_agent_db (default)") if path is None else \
                        classify_noting(path)
                placement = deployed_placement(state, project, module, scope, seen_paths)
                if placement is not None and placement.verdict == PERSISTENT:
                    continue  # the deployment puts this file on a volume that outlives the pod
                if placement is not None and placement.verdict == EPHEMERAL:
                    yield make_finding(
                        "AD302", Severity.WARNING, module, call.line, call.col,
                        f"`{what}` stores data under {placement.describe()}; replicas do not share it and a "
                        f"restart loses it", symbol=what, end_line=call.end_line, end_col=call.end_col,
                        trace=(state.flow.step(module, call.line, f"opens `{what}`"), *placement.steps()),
                        fix=_FIX)
                    continue
                if found is None:
                    continue
                where_text = ("an in-memory database (one per process)" if found[0] == "memory" else describe(found))
                yield make_finding(
                    "AD302", Severity.WARNING, module, call.line, call.col,
                    f"`{what}` stores data in {where_text}; replicas do not share it and a restart loses it",
                    symbol=what, end_line=call.end_line, end_col=call.end_col, fix=_FIX)
