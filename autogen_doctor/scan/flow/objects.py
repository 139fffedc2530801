"""What an expression may hold: an AutoGen object, a container, a store client, an instance of a
project class, and whether that instance is one object for the whole process.

Everything here reads facts only (no AST) and answers through the resolver, so it works across
modules; answers are memoised by the FlowModel that owns them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.facts import MODULE_BODY, ClassInfo, Expr, Function, ModuleFacts
from autogen_doctor.scan.resolve import Resolver

CONTAINER_CALLS = frozenset({
    "builtins.dict", "builtins.list", "builtins.set", "collections.defaultdict", "collections.OrderedDict",
    "collections.deque", "collections.Counter", "collections.ChainMap", "weakref.WeakValueDictionary",
    "weakref.WeakKeyDictionary", "typing.DefaultDict", "collections.UserDict", "collections.UserList",
})
_CACHE_CLASS = re.compile(r"^(cachetools(\.\w+)*\.(TTLCache|LRUCache|LFUCache|FIFOCache|RRCache|TLRUCache|Cache)"
                          r"|expiringdict\.ExpiringDict|pylru\.lrucache|lru\.LRU)$")
# Process-local containers of things that are meant to be per process (clients, locks, metrics).
_PER_PROCESS_NAMES = re.compile(
    r"(^|_)(clients?|connections?|conns?|engines?|pools?|locks?|semaphores?|tokenizers?|encoders?|"
    r"metrics|stats|counters?|loggers?|handlers?|registry|registries|routes|plugins|hooks|tools?|"
    r"configs?|settings|websockets?|sockets?|subscribers?|listeners?|callbacks?)$", re.IGNORECASE)
# Containers named for what a conversation is made of.
STATE_NAME = re.compile(r"(sessions?|conversations?|convos?|chats?|histor(y|ies)|messages?|msgs|threads?|"
                        r"memor(y|ies)|agents?|teams?|group_?chats?|dialog(ue)?s?|turns|transcripts?|contexts?|"
                        r"states?|users?)$", re.IGNORECASE)
# Constructors (canonical, prefix-matched) of shared-store clients: Redis and friends.
_STORE_CLIENTS = ("redis.Redis", "redis.StrictRedis", "redis.from_url", "redis.asyncio", "redis.client",
                  "redis.cluster", "aioredis", "redis.Redis.from_url", "redis.sentinel", "valkey.",
                  "upstash_redis.", "coredis.")
_CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "lru_cache", "cache",
                               "async_lru.alru_cache", "cachetools.cached", "alru_cache"})


def container_kind(resolver: Resolver, module: ModuleFacts, value: Expr) -> str | None:
    """'dict', 'list', 'set', 'defaultdict', 'TTLCache', ... when `value` builds a mutable container."""
    if value.kind in ("dict", "list", "set"):
        return value.kind
    if value.kind == "comp":
        return "collection"
    if value.kind == "call":
        canonical = resolver.canonical(module, None, value.dotted)
        if canonical in CONTAINER_CALLS or _CACHE_CLASS.match(canonical):
            return canonical.rsplit(".", 1)[-1]
    return None


def is_per_process_name(name: str) -> bool:
    """Names of containers that hold per-process things (clients, locks, metrics, sockets)."""
    return bool(_PER_PROCESS_NAMES.search(name))


# ---------- AutoGen objects ----------
def autogen_category(resolver: Resolver, module: ModuleFacts, function: Function | None, text: str) -> tuple[str, str] | None:
    """(category, class name) when `text` names an AutoGen class or a project subclass of one."""
    canonical = resolver.canonical(module, function, text)
    found = autogen_api.category(canonical)
    if found is not None:
        return found, autogen_api.class_name(canonical)
    definition = resolver.definition(canonical, module)
    if definition is not None and definition.klass is not None:
        for base in resolver.class_canonical_bases(definition.module, definition.klass):
            found = autogen_api.category(base)
            if found is not None:
                return found, definition.klass.name
    return None


def returns_autogen(resolver: Resolver, module: ModuleFacts, function: Function, depth: int = 0) -> tuple[str, str] | None:
    """What AutoGen object a factory function returns (directly, via a local, or via another factory)."""
    for value in function.returns:
        found = expr_autogen(resolver, module, function, value, depth)
        if found is not None:
            return found
    return None


def returns_autogen_tuple(resolver: Resolver, module: ModuleFacts, function: Function) -> list[tuple[str, str] | None]:
    """For a factory returning `(user_proxy, manager)`: what each element is (None when unknown)."""
    for value in function.returns:
        if value.kind in ("tuple", "list") and value.args:
            found = [expr_autogen(resolver, module, function, element) for element in value.args]
            if any(found):
                return found
    return []


def expr_autogen(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr,
                 depth: int = 0) -> tuple[str, str] | None:
    """(category, class name) when `value` evaluates to an AutoGen agent, team or other object."""
    if value.kind == "call":
        found = autogen_category(resolver, module, function, value.dotted)
        if found is not None:
            return found
        if value.dotted.endswith(".load_component"):
            return autogen_api.TEAM, "component"
        if function is not None and depth < 3:
            target = resolver.call_target(module, function, value.dotted)
            if target is not None:
                target_module, target_function = resolver.function(target)
                return returns_autogen(resolver, target_module, target_function, depth + 1)
    elif value.kind in ("name", "attr") and function is not None and depth < 4 and (
            value.kind == "name" or (value.dotted.startswith("self.") and value.dotted.count(".") == 1)):
        # `agent = Agent(...)` ... `return agent`; `self._team = Team.load_component(c)` ... `return self._team`
        for assign in function.assigns:
            if value.dotted in assign.targets and assign.how in ("assign", "annotated") and assign.value.kind == "call":
                return expr_autogen(resolver, module, function, assign.value, depth + 1)
    return None


# ---------- project objects ----------
@dataclass(frozen=True, slots=True)
class Instance:
    """An instance of a project class. `shared` says how one instance serves the whole process
    (None: made per call); `line`/`module_of_origin` point at where that one instance is made."""

    module: ModuleFacts
    klass: ClassInfo
    shared: str | None = None
    origin: ModuleFacts | None = None
    line: int = 0


def is_cached_factory(resolver: Resolver, module: ModuleFacts, function: Function) -> bool:
    for decorator in function.decorators:
        text = decorator.dotted
        if not text:
            continue
        canonical = resolver.canonical(module, None, text)
        if canonical in _CACHE_DECORATORS or text.rsplit(".", 1)[-1] in ("lru_cache", "cache", "alru_cache") or \
                canonical in ("streamlit.cache_resource", "streamlit.experimental_singleton"):
            return True
    return False


class Objects:
    """Instances of project classes and store clients, memoised for one scan."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._memo: dict[tuple, Instance | None] = {}
        self._store_memo: dict[tuple, bool] = {}
        self._containers: dict[tuple[int, str], dict[str, tuple[str, int]]] = {}

    def _class(self, module: ModuleFacts, function: Function | None, text: str) -> tuple[ModuleFacts, ClassInfo] | None:
        definition = self.resolver.definition(self.resolver.canonical(module, function, text), module)
        if definition is None or definition.klass is None or definition.rest:
            return None
        return definition.module, definition.klass

    def instance_of(self, module: ModuleFacts, function: Function | None, text: str, depth: int = 0) -> Instance | None:
        """The project-class instance `text` (a receiver like `manager`, `get_manager()`,
        `self.service`, `Manager.instance()`) holds, if the flow knows it."""
        if not text or depth > 5:
            return None
        key = (id(module), function.qualname if function is not None else None, text)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # cycles end here
        found = self._instance_of(module, function, text, depth)
        self._memo[key] = found
        return found

    def _instance_of(self, module, function, text, depth) -> Instance | None:
        resolver = self.resolver
        if text.endswith("()") and "[" not in text:
            callee = text[:-2]
            if "(" in callee:
                return None
            klass = self._class(module, function, callee)
            if klass is not None:
                return Instance(klass[0], klass[1])
            target = resolver.call_target(module, function, callee) if function is not None else None
            if target is None and function is None:
                target = resolver.call_target(module, module.body, callee)
            if target is None:
                return None
            target_module, target_function = resolver.function(target)
            return self.returned_instance(target_module, target_function, depth + 1)
        head, _, rest = text.partition(".")
        if "(" in text or "[" in text:
            return None
        if head == "self" and function is not None and function.class_name and rest and "." not in rest:
            info = module.classes.get(function.class_name)
            if info is None:
                return None
            for method in info.methods:
                method_function = module.functions.get(method)
                if method_function is None:
                    continue
                for assign in method_function.assigns:
                    if text in assign.targets and assign.how in ("assign", "annotated"):
                        found = self._value_instance(module, method_function, assign.value, depth + 1)
                        if found is not None:
                            return found
            return None
        if rest:
            return None
        if function is not None and function.qualname != MODULE_BODY and function.is_local(head):
            for name, type_text, default in function.param_info:
                if name != head:
                    continue
                if default is not None and default.dotted.rsplit(".", 1)[-1] in ("Depends", "Security", "Provide") \
                        and default.args:
                    found = self.instance_of(module, function, default.args[0].dotted + "()", depth + 1)
                    if found is not None:
                        return found
                return None
            for assign in reversed(function.assigns):
                if assign.targets == (head,) and assign.how in ("assign", "annotated", "with"):
                    return self._value_instance(module, function, assign.value, depth + 1)
            return None
        found = resolver.module_value(module, function, head)
        if found is None:
            return None
        definition, value = found
        if value.kind == "call":
            klass = self._class(definition.module, None, value.dotted)
            if klass is not None:
                assign = definition.assign
                return Instance(klass[0], klass[1], f"module-level instance `{definition.name}`", definition.module,
                                assign.line if assign else 0)
        return self._value_instance(definition.module, definition.module.body, value, depth + 1, shared_hint=True)

    def _value_instance(self, module, function, value: Expr, depth: int, shared_hint: bool = False) -> Instance | None:
        if value.kind == "call" and value.dotted:
            return self.instance_of(module, function, value.dotted + "()", depth)
        if value.kind in ("name", "attr") and value.dotted:
            return self.instance_of(module, function, value.dotted, depth)
        return None

    def returned_instance(self, module: ModuleFacts, function: Function, depth: int = 0) -> Instance | None:
        """The instance a factory/getter returns, and whether it is the same one on every call."""
        cached = is_cached_factory(self.resolver, module, function)
        lazy_globals = {write.name for write in function.global_writes}
        for value in function.returns:
            found = None
            if value.kind in ("name", "attr") and value.dotted:
                head = value.dotted.split(".", 1)[0]
                if head in ("cls", "self") and value.dotted.count(".") == 1 and function.class_name:
                    # `return cls._instance`: a class-level singleton
                    info = module.classes.get(function.class_name)
                    if info is not None and value.dotted.split(".", 1)[1] in info.attrs:
                        return Instance(module, info, f"class-level `{info.name}.{value.dotted.split('.', 1)[1]}`",
                                        module, info.line)
                if head in lazy_globals:
                    for assign in function.assigns:
                        if assign.targets == (head,) and assign.value.kind == "call":
                            klass = self._class(module, function, assign.value.dotted)
                            if klass is not None:
                                return Instance(klass[0], klass[1], f"`{head}`, created once by `{function.name}()`",
                                                module, assign.line)
                found = self.instance_of(module, function, value.dotted, depth + 1)
            elif value.kind == "call" and value.dotted:
                found = self.instance_of(module, function, value.dotted + "()", depth + 1)
            if found is not None:
                if cached and found.shared is None:
                    return Instance(found.module, found.klass, f"cached by @lru_cache on `{function.name}()`",
                                    module, function.line)
                return found
        return None

    # ---------- containers on an object ----------
    def container_attrs(self, module: ModuleFacts, info: ClassInfo) -> dict[str, tuple[str, int]]:
        """{attr: (container kind, line)} for `self.attr = {}` in any method (or a project base's).
        Class-level containers are AD102's: they are not listed here."""
        key = (id(module), info.qualname)
        found = self._containers.get(key)
        if found is not None:
            return found
        found = {}
        for method in info.methods:
            function = module.functions.get(method)
            if function is None:
                continue
            for assign in function.assigns:
                for target in assign.targets:
                    if target.startswith("self.") and target.count(".") == 1 and assign.value is not None:
                        kind = container_kind(self.resolver, module, assign.value)
                        if kind is not None:
                            found.setdefault(target[5:], (kind, assign.line))
        # bases defined in the project keep their containers too
        for base in info.bases:
            definition = self.resolver.definition(self.resolver.canonical(module, None, base), module)
            if definition is not None and definition.klass is not None and definition.klass is not info:
                for name, value in self.container_attrs(definition.module, definition.klass).items():
                    found.setdefault(name, value)
        self._containers[key] = found
        return found

    def self_writes(self, module: ModuleFacts, function: Function, depth: int = 0,
                    seen: set | None = None) -> list[tuple[str, ModuleFacts, Function, object, tuple]]:
        """Writes into `self.<attr>` containers by a method and the methods it calls on `self`:
        (attr, module, method, mutation, ((module, call line, callee), ...))."""
        seen = set() if seen is None else seen
        if depth > 3 or (id(module), function.qualname) in seen or not function.class_name:
            return []
        seen.add((id(module), function.qualname))
        found = []
        for mutation in function.mutations:
            if mutation.how == "attribute assignment":
                continue
            parts = mutation.base.split(".")
            if len(parts) == 2 and parts[0] == "self":
                found.append((parts[1], module, function, mutation, ()))
        for call in function.calls:
            if call.func.startswith("self.") and call.func.count(".") == 1:
                target = self.resolver.call_target(module, function, call.func)
                if target is None:
                    continue
                callee_module, callee = self.resolver.function(target)
                for attr, where_module, method, mutation, chain in self.self_writes(callee_module, callee, depth + 1, seen):
                    found.append((attr, where_module, method, mutation, ((module, call.line, callee.qualname),) + chain))
        return found

    # ---------- store clients ----------
    def is_store_client(self, module: ModuleFacts, function: Function | None, text: str, depth: int = 0) -> bool:
        """Does `text` (a receiver) hold a Redis-like shared store client?"""
        key = (id(module), function.qualname if function is not None else None, text)
        found = self._store_memo.get(key)
        if found is None:
            self._store_memo[key] = False
            found = self._is_store_client(module, function, text, depth)
            self._store_memo[key] = found
        return found

    def _is_store_client(self, module, function, text, depth) -> bool:
        if depth > 4 or not text or "[" in text:
            return False
        resolver = self.resolver
        if text.endswith("()"):
            canonical = resolver.canonical(module, function, text[:-2])
            if canonical.startswith(_STORE_CLIENTS):
                return True
            if function is not None:
                target = resolver.call_target(module, function, text[:-2])
                if target is not None:
                    target_module, target_function = resolver.function(target)
                    return any(self._value_is_store(target_module, target_function, value, depth + 1)
                               for value in target_function.returns)
            return False
        head, _, rest = text.partition(".")
        if head == "self" and function is not None and function.class_name and rest and "." not in rest:
            info = module.classes.get(function.class_name)
            for method in info.methods if info else ():
                method_function = module.functions.get(method)
                for assign in method_function.assigns if method_function else ():
                    if text in assign.targets and self._value_is_store(module, method_function, assign.value, depth + 1):
                        return True
            return False
        if "(" in text:
            return False
        if function is not None and function.qualname != MODULE_BODY and function.is_local(head):
            if rest:
                return False
            for assign in reversed(function.assigns):
                if assign.targets == (head,):
                    return self._value_is_store(module, function, assign.value, depth + 1)
            return any(name == head and "redis" in type_text.lower() for name, type_text, _ in function.param_info)
        canonical = resolver.canonical(module, function, text)
        if canonical.startswith(_STORE_CLIENTS):
            return True
        found = resolver.module_value(module, function, text)
        if found is None:
            return False
        definition, value = found
        return self._value_is_store(definition.module, definition.module.body, value, depth + 1)

    def _value_is_store(self, module, function, value: Expr, depth: int) -> bool:
        if value.kind == "call" and value.dotted:
            return self.is_store_client(module, function, value.dotted + "()", depth)
        if value.kind in ("name", "attr") and value.dotted:
            return self.is_store_client(module, function, value.dotted, depth)
        return False
