"""gunicorn configuration files (`gunicorn.conf.py` and friends), read with `ast` only.

The file is never imported or run. Module-level `workers = ...` assignments are evaluated over a
small, safe subset: integer arithmetic, `multiprocessing.cpu_count()` / `os.cpu_count()` (several,
one per CPU), `int(os.environ.get("NAME", "4"))` / `os.getenv("NAME", 4)` (the default), and
names assigned earlier in the file. Anything else is unknown and stays silent. `reload = True`
marks a development configuration.
"""

from __future__ import annotations

import ast
import warnings

from autogen_doctor.scan.deploy.facts import (
    GUNICORN,
    SERVER_WORKERS,
    DeployFile,
    DeployParseError,
    LineIndex,
    ProcessCount,
    ScalingFact,
)

_CPU = ProcessCount(None, "one per CPU")


def _environment_default(call: ast.Call) -> tuple[str, ast.expr] | None:
    """("NAME", default) for os.environ.get("NAME", default) / os.getenv("NAME", default)."""
    function = call.func
    name = ""
    if isinstance(function, ast.Attribute):
        name = function.attr
    elif isinstance(function, ast.Name):
        name = function.id
    if name not in ("get", "getenv") or len(call.args) < 2 or not isinstance(call.args[0], ast.Constant):
        return None
    if name == "get" and not (isinstance(function, ast.Attribute) and "environ" in ast.unparse(function.value)):
        return None
    return str(call.args[0].value), call.args[1]


class _Evaluator:
    def __init__(self) -> None:
        self.names: dict[str, ProcessCount] = {}

    def count(self, node: ast.expr) -> ProcessCount | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) and not isinstance(node.value, bool):
            text = str(node.value).strip()
            return ProcessCount(int(text), text) if text.isdigit() else None
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called == "cpu_count":
                return _CPU
            if called == "sched_getaffinity":
                return _CPU
            if called in ("int", "len") and len(node.args) == 1:
                return self.count(node.args[0])
            if called in ("max", "min") and node.args:
                counts = [self.count(argument) for argument in node.args]
                if called == "max":  # max(unknown, 2) is still at least 2
                    floor = max((count.value for count in counts if count is not None and count.value is not None),
                                default=0)
                    if any(count is None for count in counts) and floor > 1:
                        return ProcessCount(None, f"at least {floor}")
                if any(count is None for count in counts):
                    return None
                known = [count.value for count in counts if count.value is not None]
                if called == "min" and known and min(known) <= 1:
                    return ProcessCount(min(known), str(min(known)))
                if any(count.value is None for count in counts):
                    return _CPU
                value = max(known) if called == "max" else min(known)
                return ProcessCount(value, str(value))
            found = _environment_default(node)
            if found is not None:
                variable, default = found
                count = self.count(default)
                return None if count is None else ProcessCount(count.value, f"{count.label} (default of ${variable})")
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult, ast.Sub, ast.FloorDiv)):
            left, right = self.count(node.left), self.count(node.right)
            if left is None or right is None:
                return None
            if left.value is None or right.value is None:
                return _CPU  # arithmetic on the CPU count, e.g. cpu_count() * 2 + 1
            if isinstance(node.op, ast.FloorDiv) and right.value == 0:
                return None
            value = {ast.Add: left.value + right.value, ast.Mult: left.value * right.value,
                     ast.Sub: left.value - right.value}.get(type(node.op), left.value // max(right.value, 1))
            return ProcessCount(value, str(value))
        if isinstance(node, ast.IfExp):
            body, other = self.count(node.body), self.count(node.orelse)
            if body is None or other is None:
                return None
            if body.several or other.several:
                return body if body.several else other
            return body
        return None


def _module_assignments(body: list[ast.stmt]):
    """Assignments at module level, including those inside top-level if/try/with blocks."""
    for statement in body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            yield statement
        elif isinstance(statement, (ast.If, ast.With)):
            yield from _module_assignments(statement.body)
            yield from _module_assignments(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _module_assignments(block)


def parse_gunicorn_config(text: str, display_path: str) -> DeployFile:
    """Scaling facts of a gunicorn Python configuration file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not ours to report
            tree = ast.parse(text, filename=display_path)
    except SyntaxError as error:
        raise DeployParseError(f"syntax error in gunicorn config: {error.msg} (line {error.lineno})") from None
    except (RecursionError, MemoryError, ValueError):
        raise DeployParseError("gunicorn config too deeply nested or not text") from None
    result = DeployFile(kind=GUNICORN, display_path=display_path)
    lines = LineIndex(text)
    evaluator = _Evaluator()
    worker_settings: list[tuple[ast.stmt, ProcessCount | None]] = []
    reload = False
    try:
        for statement in _module_assignments(tree.body):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            if value is None:
                continue
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                if target.id == "reload":
                    reload = isinstance(value, ast.Constant) and bool(value.value)
                count = evaluator.count(value)
                if count is not None:
                    evaluator.names[target.id] = count
                if target.id == "workers":
                    worker_settings.append((statement, count))
    except RecursionError:
        raise DeployParseError("gunicorn config expression nesting too deep") from None
    if reload:
        return result
    for statement, count in worker_settings:
        if count is not None and count.several:
            start = lines.starts[statement.lineno - 1] + statement.col_offset
            length = 0
            if statement.end_lineno == statement.lineno and statement.end_col_offset is not None:
                length = statement.end_col_offset - statement.col_offset
            position = lines.position(start, length)
            result.scaling.append(ScalingFact(SERVER_WORKERS, count, position.context, "gunicorn config",
                                              "workers", position, "gunicorn"))
    return result
