"""Where a path expression points: `/tmp`, a path relative to the working directory, or elsewhere."""

from __future__ import annotations

import re

from autogen_doctor.scan.facts import Expr, Function, ModuleFacts
from autogen_doctor.scan.resolve import Resolver

TMP = "tmp"
RELATIVE = "relative"
CODE_DIR = "code-dir"  # next to the module's own file: inside the image, per container
# `os.path.dirname(__file__)`, `Path(__file__).parent`, `Path(__file__).resolve().parent.parent`
_CODE_DIR_CALLS = frozenset({"os.path.dirname", "os.path.abspath", "os.path.realpath", "pathlib.Path",
                             "pathlib.PurePath", "pathlib.PosixPath"})
_PARENTS = re.compile(r"(\.(resolve|absolute)\(\))?(\.parent)+")
_TMP_PREFIXES = ("/tmp", "/var/tmp", "/dev/shm")
# `mkdtemp()` is not here: it makes a new, uniquely named folder per call, scratch space for one
# request that no later request can find again.
_TEMPDIR_CALLS = frozenset({"tempfile.gettempdir", "tempfile.gettempdirb"})
# Paths that hold caches or downloaded models: allowed to vanish.
_CACHE_LIKE = re.compile(r"(cache|\.cache|huggingface|hf_home|models?/|model_dir|weights|\.log$|logs?/)", re.IGNORECASE)
_GETENV_CALLS = frozenset({"os.getenv", "os.environ.get"})
# Path methods whose result is a path next to their receiver.
_PATH_DERIVING = (".with_suffix", ".with_name", ".with_stem", ".resolve", ".absolute", ".expanduser")
_JOIN_CALLS = frozenset({"os.path.join", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath",
                         "builtins.str", "os.path.abspath", "os.path.normpath", "os.fspath", "anyio.Path",
                         "aiopath.AsyncPath", "trio.Path"})


def classify_string(text: str) -> tuple[str, str] | None:
    if not text or "://" in text or text.startswith(("~", "$", "%")) or text == ":memory:":
        return None
    if _CACHE_LIKE.search(text):
        return None
    if text.startswith(_TMP_PREFIXES):
        return TMP, text
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return None
    if not any(char.isspace() for char in text) and len(text) < 200:  # only called on path positions
        return RELATIVE, text
    return None


def classify(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr | None,
             depth: int = 0, arguments=None) -> tuple[str, str] | None:
    """(TMP or RELATIVE, what was seen) when `value` is a path on ephemeral, process-local disk.

    `arguments(module, function, param)` (the flow's `argument_values`) lets a parameter be
    followed to what its callers pass: `StateManager(file_path=...)` ... `open(self.file_path, "w")`.
    """
    if value is None or depth > 10:
        return None
    kind = value.kind
    if kind == "str":
        return classify_string(value.text or "")
    if kind == "fstr":
        if value.text:
            return classify_string(value.text)
        if value.strings and any(_CACHE_LIKE.search(text) for text in value.strings):
            return None
        for name in sorted(value.names)[:1]:
            found = classify(resolver, module, function, Expr.make("name", name), depth + 1, arguments)
            if found is not None and found[0] == TMP:
                return found
        return None
    if kind == "binop":
        if value.args:
            found = classify(resolver, module, function, value.args[0], depth + 1, arguments)
            if found is not None and value.strings and any(_CACHE_LIKE.search(text) for text in value.strings):
                return None
            return found
        return None
    if "__file__" in value.names and kind in ("call", "attr") and _is_code_dir(resolver, module, function, value):
        return CODE_DIR, value.dotted.replace("()", "(__file__)", 1) if value.dotted else "__file__"
    if kind == "call":
        canonical = resolver.canonical(module, function, value.dotted)
        if canonical in _TEMPDIR_CALLS:
            return TMP, f"{value.dotted}()"
        if canonical in _GETENV_CALLS:
            # `os.getenv("STATE_DIR", "data")`: unless the deployment sets it, the default is the path
            name = value.arg(0, "key")
            found = classify(resolver, module, function, value.arg(1, "default"), depth + 1, arguments)
            if found is not None and name is not None and name.kind == "str" and name.text:
                # described as "`data`, the default of `$STATE_DIR`"
                return found[0], f"{found[1]}`, the default of `${name.text}"
            return found
        receiver = value.dotted.rsplit(".", 1)[0] if "." in value.dotted else ""
        if value.dotted.endswith(_PATH_DERIVING) and receiver and "(" not in receiver and "[" not in receiver:
            # `self.file_path.with_suffix(".tmp")`: where the receiver points
            found = classify(resolver, module, function, Expr.make("name" if "." not in receiver else "attr", receiver),
                             depth + 1, arguments)
            if found is not None:
                return found
        if canonical in _JOIN_CALLS or value.dotted.endswith((".joinpath", ".resolve", ".expanduser")):
            first = value.args[0] if value.args else None
            if first is None and value.dotted.endswith((".joinpath", ".resolve")):
                return None
            found = classify(resolver, module, function, first, depth + 1, arguments)
            if found is not None and value.strings and any(_CACHE_LIKE.search(text) for text in value.strings):
                return None
            return found
        return None
    if kind in ("name", "attr"):
        return through_name(resolver, module, function, value, depth, arguments, classify)
    return None


def _is_code_dir(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr) -> bool:
    """Is `value` the folder of the module's own file (or one above it): `os.path.dirname(__file__)`,
    `Path(__file__).parent`, `Path(__file__).resolve().parent.parent`?"""
    text = value.dotted
    if value.kind == "attr":
        # `Path().parent`, `Path().resolve().parent.parent`: a Path of __file__, then parents
        head, _, tail = text.partition("()")
        return resolver.canonical(module, function, head) in _CODE_DIR_CALLS and _PARENTS.fullmatch(tail) is not None
    if value.kind == "call":
        canonical = resolver.canonical(module, function, text)
        if canonical in ("os.path.dirname", "os.path.abspath", "os.path.realpath"):
            argument = value.args[0] if value.args else None
            return argument is not None and (argument.dotted == "__file__" or
                                             _is_code_dir(resolver, module, function, argument))
    return False


def through_name(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr, depth: int,
                 arguments, walk):
    """Apply `walk` (classify, env_names) to what a name or attribute holds: a local's last plain
    assignment, a parameter's arguments at up to 8 call sites, a `self.x` assigned in any method
    of the class, a module constant. The first answer found (truthy), else None."""
    kind = value.kind
    if function is not None and kind == "name" and function.is_local(value.dotted):
        for assign in reversed(function.assigns):
            if assign.targets == (value.dotted,) and assign.how in ("assign", "annotated"):
                return walk(resolver, module, function, assign.value, depth + 1, arguments)
        if arguments is not None and depth < 9 and value.dotted in function.params:
            for caller_module, caller, argument, _ in arguments(module, function, value.dotted)[:8]:
                found = walk(resolver, caller_module, caller, argument, depth + 1, arguments)
                if found:
                    return found
        return None
    if function is not None and kind == "attr" and value.dotted.startswith("self.") and \
            value.dotted.count(".") == 1 and function.class_name:
        info = module.classes.get(function.class_name)
        for method in info.methods if info else ():
            method_function = module.functions.get(method)
            for assign in method_function.assigns if method_function else ():
                if assign.targets == (value.dotted,):
                    found = walk(resolver, module, method_function, assign.value, depth + 1, arguments)
                    if found:
                        return found
        return None
    found = resolver.module_value(module, function, value.dotted)
    if found is not None:
        definition, assigned = found
        return walk(resolver, definition.module, None, assigned, depth + 1, arguments)
    return None


def describe(found: tuple[str, str]) -> str:
    kind, seen = found
    if kind == TMP:
        return f"`{seen}` (temporary storage, local to this container)"
    if kind == CODE_DIR:
        return f"the code's own folder, `{seen}` (inside the container, per replica)"
    return f"`{seen}` (relative to the working directory, inside the container)"


def env_names(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr | None,
              depth: int = 0, arguments=None) -> tuple[str, ...]:
    """Names of the environment variables a path expression is read from, in the order met:
    `os.environ.get("HISTORY_DIR", "./history")`, `os.getenv("DB_PATH")`,
    `Path(os.environ["STATE_DIR"]) / "x"`, followed through the same locals, parameters,
    `self` attributes and module constants as `classify`. The deployment decides where such a
    path lands (see deploy/envpaths.py)."""
    if value is None or depth > 10:
        return ()
    kind = value.kind
    if kind == "call":
        canonical = resolver.canonical(module, function, value.dotted)
        if canonical in _GETENV_CALLS:
            name = value.arg(0, "key")
            return (name.text,) if name is not None and name.kind == "str" and name.text else ()
        receiver = value.dotted.rsplit(".", 1)[0] if "." in value.dotted else ""
        if value.dotted.endswith(_PATH_DERIVING) and receiver and "(" not in receiver and "[" not in receiver:
            return env_names(resolver, module, function, Expr.make("name" if "." not in receiver else "attr", receiver),
                             depth + 1, arguments)
        if canonical in _JOIN_CALLS or value.dotted.endswith(".joinpath"):
            return env_names(resolver, module, function, value.args[0] if value.args else None, depth + 1, arguments)
        return ()
    if kind == "subscript":
        if len(value.args) == 2 and value.args[1].kind == "str" and value.args[1].text and \
                value.args[0].kind in ("name", "attr") and \
                resolver.canonical(module, function, value.args[0].dotted) == "os.environ":
            return (value.args[1].text,)
        return ()
    if kind == "binop":
        return env_names(resolver, module, function, value.args[0] if value.args else None, depth + 1, arguments)
    if kind == "fstr":
        for name in sorted(value.names)[:1]:
            return env_names(resolver, module, function, Expr.make("name", name), depth + 1, arguments)
        return ()
    if kind in ("name", "attr"):
        return through_name(resolver, module, function, value, depth, arguments, env_names) or ()
    return ()
