"""Code that runs once per request or per job, per framework, and what it reaches.

An entry point is a function a server or worker calls for each request, message or job:
FastAPI/Starlette routes and websockets (APIRouter too), Flask/Quart/Sanic routes and
blueprints, Django views, aiohttp handlers, Celery tasks, Chainlit callbacks, Gradio and
Flask-SocketIO handlers, and a Streamlit script's module body (it reruns on every interaction).
Route objects are recognised by the constructor that made them (`app = FastAPI()`), with a
fallback on the usual names (`app`, `router`, `bp`) in modules that import a web framework.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from autogen_doctor.scan import autogen_api

from autogen_doctor.scan.facts import MODULE_BODY, Expr, Function, ModuleFacts
from autogen_doctor.scan.resolve import FunctionRef, Resolver

FASTAPI, STARLETTE, FLASK, DJANGO, AIOHTTP, CELERY, CHAINLIT, STREAMLIT, GRADIO, OTHER = (
    "FastAPI", "Starlette", "Flask", "Django", "aiohttp", "Celery", "Chainlit", "Streamlit", "Gradio", "web")

# Constructors of objects whose decorators register per-request handlers: canonical -> framework.
_ROUTERS = {
    "fastapi.FastAPI": FASTAPI, "fastapi.APIRouter": FASTAPI, "fastapi.applications.FastAPI": FASTAPI,
    "fastapi.routing.APIRouter": FASTAPI,
    "starlette.applications.Starlette": STARLETTE, "starlette.routing.Router": STARLETTE,
    "flask.Flask": FLASK, "flask.Blueprint": FLASK, "flask.blueprints.Blueprint": FLASK,
    "quart.Quart": FLASK, "quart.Blueprint": FLASK, "sanic.Sanic": OTHER, "sanic.Blueprint": OTHER,
    "aiohttp.web.RouteTableDef": AIOHTTP, "aiohttp.web.Application": AIOHTTP,
    "celery.Celery": CELERY, "flask_socketio.SocketIO": FLASK, "socketio.AsyncServer": OTHER,
    "socketio.Server": OTHER, "litestar.Router": OTHER,
}
_ROUTE_METHODS = frozenset({
    "get", "post", "put", "patch", "delete", "head", "options", "route", "api_route", "websocket",
    "websocket_route", "view", "task", "on", "event", "trace", "ws", "add_websocket_route",
    # per-request hooks
    "middleware", "before_request", "after_request", "teardown_request", "before_app_request",
})
_FALLBACK_NAMES = {"app": OTHER, "router": OTHER, "api": OTHER, "bp": FLASK, "blueprint": FLASK,
                   "routes": AIOHTTP, "celery": CELERY, "celery_app": CELERY, "socketio": OTHER, "sio": OTHER}
_FRAMEWORK_ROOTS = {"fastapi": FASTAPI, "starlette": STARLETTE, "flask": FLASK, "quart": FLASK,
                    "sanic": OTHER, "aiohttp": AIOHTTP, "django": DJANGO, "rest_framework": DJANGO,
                    "celery": CELERY, "chainlit": CHAINLIT, "streamlit": STREAMLIT, "gradio": GRADIO,
                    "litestar": OTHER, "flask_socketio": FLASK, "socketio": OTHER}
_REGISTER_CALLS = frozenset({
    "add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route", "add_url_rule",
    "add_get", "add_post", "add_put", "add_delete", "add_patch", "add_view", "add_resource",
    "register", "add_event_handler",
})
_ROUTE_CLASSES = frozenset({"starlette.routing.Route", "starlette.routing.WebSocketRoute",
                            "fastapi.routing.APIRoute", "fastapi.routing.APIWebSocketRoute",
                            "django.urls.path", "django.urls.re_path", "django.conf.urls.url",
                            "aiohttp.web.get", "aiohttp.web.post", "aiohttp.web.route", "aiohttp.web.put",
                            "aiohttp.web.delete", "aiohttp.web.view"})
_VIEW_METHODS = frozenset({"get", "post", "put", "patch", "delete", "dispatch", "list", "create",
                           "retrieve", "update", "partial_update", "destroy", "head", "options"})
_CHAINLIT_HOOKS = frozenset({"on_message", "on_chat_start", "on_chat_resume", "on_audio_chunk",
                             "on_audio_end", "on_settings_update", "action_callback", "on_stop",
                             "on_chat_end", "on_window_message", "on_audio_start", "set_starters"})


# Parameter names that carry which conversation a call belongs to.
CONVERSATION_KEY = re.compile(
    r"^(session|conversation|conv|thread|chat|user|room|channel|dialog|dialogue|client)_?(id|key|uuid)$"
    r"|^(sid|session|session_key)$", re.IGNORECASE)


_CONNECTION_SERVERS = frozenset({"run_server_in_thread", "run_server_in_process"})
_REGISTRATION_NAMES = _REGISTER_CALLS | {name.rsplit(".", 1)[-1] for name in _ROUTE_CLASSES} | {
    "ChatInterface", "Interface", "click", "submit", "change"}


@dataclass(frozen=True, slots=True)
class EntryPoint:
    ref: FunctionRef
    framework: str
    description: str  # e.g. "FastAPI route POST /chat"


@dataclass(frozen=True, slots=True)
class Reach:
    """How a function is reached from an entry point: the entry point and the caller chain."""

    entry: EntryPoint
    chain: tuple[str, ...]  # qualnames from the entry point down to this function
    # (function, line in its caller where it is called) from the entry point down; the entry
    # point's own line is its `def` line. This is the witness a finding's trace starts with.
    hops: tuple[tuple[FunctionRef, int], ...] = ()


def frameworks_imported(module: ModuleFacts) -> set[str]:
    found = set()
    for target in (*module.imports.values(), *module.star_imports):
        framework = _FRAMEWORK_ROOTS.get(target.split(".", 1)[0])
        if framework:
            found.add(framework)
    return found


def _first_string(expr: Expr) -> str:
    for argument in expr.args:
        if argument.kind == "str" and argument.text is not None:
            return argument.text
    value = expr.kwarg("path")
    return value.text if value is not None and value.text else ""


class EntryPoints:
    """Every entry point of the project and every function reachable from one."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.entries: dict[FunctionRef, EntryPoint] = {}
        self.service_modules: set[str] = set()
        for key, module in resolver.modules.items():
            self._find_in_module(key, module)
        self.reach: dict[FunctionRef, Reach] = {}
        self._walk()
        # Service layers and libraries: functions taking a conversation key that build or run
        # agents or touch state are per-request code even when no route is in the scanned tree.
        added = False
        for key, module in resolver.modules.items():
            added |= self._find_session_functions(key, module)
        if added:
            self._walk()

    # ---------- discovery ----------
    def _add(self, ref: FunctionRef, framework: str, description: str) -> None:
        if ref not in self.entries:
            self.entries[ref] = EntryPoint(ref, framework, description)
        self.service_modules.add(ref[0])

    def _router_framework(self, module: ModuleFacts, function: Function, receiver: str,
                          imported: set[str]) -> str | None:
        resolver = self.resolver
        found = resolver.module_value(module, function, receiver)
        if found is not None:
            definition, value = found
            if value.kind == "call":
                constructor = resolver.canonical(definition.module, None, value.dotted)
                framework = _ROUTERS.get(constructor)
                if framework is None:
                    for known, name in _ROUTERS.items():
                        if constructor.endswith("." + known.rsplit(".", 1)[1]) and constructor.split(".")[0] == known.split(".")[0]:
                            framework = name
                            break
                if framework is not None:
                    return framework
        canonical = resolver.canonical(module, function, receiver)
        if canonical.startswith(("aiohttp.web.", "flask.", "fastapi.")):
            return _FRAMEWORK_ROOTS[canonical.split(".", 1)[0]]
        last = receiver.rsplit(".", 1)[-1]
        if imported and (last in _FALLBACK_NAMES or last.endswith(("_app", "_router", "_bp"))):
            return _FALLBACK_NAMES.get(last) if _FALLBACK_NAMES.get(last, OTHER) != OTHER else sorted(imported)[0]
        return None

    def _find_in_module(self, key: str, module: ModuleFacts) -> None:
        resolver = self.resolver
        imported = frameworks_imported(module)
        web_imported = imported - {STREAMLIT}
        if STREAMLIT in imported:
            self._add((key, MODULE_BODY), STREAMLIT, "Streamlit script (reruns on every interaction)")
        is_views = module.name.rsplit(".", 1)[-1] in ("views", "api_views", "viewsets") or \
            module.path.endswith(("views.py",))
        for qualname, function in module.functions.items():
            if qualname == MODULE_BODY:
                continue
            for decorator in function.decorators:
                self._decorator_entry(key, module, function, decorator, web_imported)
            if is_views and function.class_name is None and function.parent is None and \
                    function.params[:1] == ("request",):
                self._add((key, qualname), DJANGO, f"Django view {function.name}")
        for qualname, info in module.classes.items():
            if not info.bases:
                continue
            bases = resolver.class_canonical_bases(module, info)
            if any(base.startswith(("django.", "rest_framework.")) and base.rsplit(".", 1)[-1].endswith(
                    ("View", "ViewSet", "APIView", "Mixin")) for base in bases):
                framework = DJANGO
            elif any(base in ("aiohttp.web.View", "starlette.endpoints.HTTPEndpoint",
                              "starlette.endpoints.WebSocketEndpoint", "flask.views.MethodView",
                              "flask.views.View") for base in bases):
                framework = OTHER
            else:
                continue
            for method in info.methods:
                name = method.rsplit(".", 1)[-1]
                if name in _VIEW_METHODS or name.startswith("on_"):
                    self._add((key, method), framework, f"{framework} view {info.name}.{name}")
        # One pass over the calls: most modules have thousands and register nothing.
        for function in module.functions.values():
            for call in function.calls:
                func = call[0]  # call.func; the method inline (no property call per call site)
                method = func[func.rfind(".") + 1:]
                # AG2 `IOWebsockets.run_server_in_thread(on_connect=handler)`: one call per connection
                if method in _CONNECTION_SERVERS and call.kwarg("on_connect"):
                    handler = call.kwarg("on_connect")
                    target = resolver.call_target(module, function, handler.dotted) if handler.dotted else None
                    if target is not None:
                        self._add(target, OTHER, "AG2 IOWebsockets connection handler")
                # handlers are only registered by calls in modules that import a framework
                elif imported and method in _REGISTRATION_NAMES:
                    self._registration_entry(key, module, function, call, imported)

    def _decorator_entry(self, key: str, module: ModuleFacts, function: Function, decorator: Expr,
                         imported: set[str]) -> None:
        resolver = self.resolver
        text = decorator.dotted
        if not text:
            return
        canonical = resolver.canonical(module, None, text)
        last = text.rsplit(".", 1)[-1]
        ref = (key, function.qualname)
        if canonical in ("celery.shared_task", "celery.task") or (last == "shared_task" and "celery" in canonical):
            self._add(ref, CELERY, f"Celery task {function.name}")
            return
        if canonical.split(".", 1)[0] == "autogen_core" and last in ("message_handler", "event", "rpc") and \
                module.name.split(".", 1)[0] not in autogen_api.MODERN_ROOTS:
            # An AutoGen Core agent's handler runs once per message the runtime delivers: when
            # requests publish to the runtime, that is once per request.
            self._add(ref, OTHER, f"AutoGen Core @{last} handler {function.qualname}")
            return
        if canonical.startswith("chainlit.") and last in _CHAINLIT_HOOKS:
            self._add(ref, CHAINLIT, f"Chainlit @{last} callback")
            return
        if canonical in ("rest_framework.decorators.api_view",):
            self._add(ref, DJANGO, f"Django REST view {function.name}")
            return
        if canonical.startswith("streamlit.") and last in ("cache_resource", "cache_data", "fragment"):
            self._add(ref, STREAMLIT, f"Streamlit @st.{last} body")
            return
        if "." not in text or last not in _ROUTE_METHODS:
            return
        receiver = text.rsplit(".", 1)[0]
        outer = module.functions.get(function.parent) if function.parent else None
        framework = self._router_framework(module, outer, receiver, imported)
        if framework is None:
            return
        if last == "task" or framework == CELERY:
            self._add(ref, CELERY, f"Celery task {function.name}")
            return
        route = _first_string(decorator) if decorator.kind == "call" else ""
        verb = {"route": "", "api_route": "", "websocket": "websocket", "websocket_route": "websocket",
                "ws": "websocket", "on": "event", "event": "event"}.get(last, last.upper())
        if last in ("middleware", "before_request", "after_request", "teardown_request", "before_app_request"):
            self._add(ref, framework, f"{framework} per-request hook @{last}")
            return
        description = f"{framework} {('route ' + verb).strip() if verb not in ('websocket', 'event') else verb} {route}".strip()
        self._add(ref, framework, description.replace("  ", " "))

    def _registration_entry(self, key: str, module: ModuleFacts, function: Function, call, imported: set[str]) -> None:
        resolver = self.resolver
        method = call.method
        canonical = None
        if method in _REGISTER_CALLS and "." in call.func and imported:
            candidates = list(call.args[1:]) + [value for name, value in call.kwargs
                                                 if name in ("endpoint", "view_func", "handler", "view")]
            if method in ("add_route",) and len(call.args) >= 3:
                candidates = [call.args[2]] + candidates
            framework = sorted(imported)[0]
            description = f"{framework} handler registered with {method}()"
        else:
            canonical = resolver.canonical(module, function, call.func)
            if canonical in _ROUTE_CLASSES:
                candidates = list(call.args[1:2]) + [value for name, value in call.kwargs
                                                     if name in ("endpoint", "view", "handler")]
                framework = DJANGO if canonical.startswith("django.") else (
                    AIOHTTP if canonical.startswith("aiohttp.") else STARLETTE)
                description = f"{framework} route {_first_string_from_call(call)}".strip()
            elif canonical.startswith("gradio."):
                candidates = [value for name, value in call.kwargs if name == "fn"] + (
                    list(call.args[:1]) if canonical.rsplit(".", 1)[-1] in ("ChatInterface", "Interface", "click",
                                                                            "submit", "change") else [])
                framework, description = GRADIO, "Gradio callback"
            elif method in ("click", "submit", "change") and GRADIO in imported:
                candidates = [value for name, value in call.kwargs if name == "fn"] + list(call.args[:1])
                framework, description = GRADIO, f"Gradio .{method}() callback"
            else:
                return
        for candidate in candidates:
            if candidate.kind == "call" and candidate.dotted.endswith(".as_view"):
                target_text = candidate.dotted[: -len(".as_view")]
                definition = resolver.definition(resolver.canonical(module, function, target_text), module)
                if definition is not None and definition.klass is not None:
                    for method_name in definition.klass.methods:
                        if method_name.rsplit(".", 1)[-1] in _VIEW_METHODS:
                            self._add((resolver.key_of[id(definition.module)], method_name), framework,
                                      f"{framework} view {definition.klass.name}")
                continue
            if candidate.kind not in ("name", "attr"):
                continue
            target = resolver.call_target(module, function, candidate.dotted)
            if target is not None:
                self._add(target, framework, description)

    def _find_session_functions(self, key: str, module: ModuleFacts) -> bool:
        if module.name.split(".", 1)[0] in autogen_api.CLASSIC_ROOTS | autogen_api.MODERN_ROOTS:
            return False  # AutoGen's own code is a library, not a service
        added = False
        for qualname, function in module.functions.items():
            if qualname == MODULE_BODY or (key, qualname) in self.reach or function.parent is not None:
                continue
            conversation_keys = [name for name in function.params if CONVERSATION_KEY.match(name)]
            if not conversation_keys or not self._does_conversation_work(module, function):
                continue
            self._add((key, qualname), OTHER,
                      f"{function.name}({conversation_keys[0]}, ...), which takes a conversation key")
            self.service_modules.discard(key)  # not a server module: keeps the one-off-script logic
            added = True
        return added

    def _does_conversation_work(self, module: ModuleFacts, function: Function) -> bool:
        """Builds or runs an agent, or writes into something that outlives the call."""
        for call in function.calls:
            if call.method in autogen_api.RUN_METHODS and call.receiver:
                return True
            if call.method[:1].isupper() and autogen_api.category(
                    self.resolver.canonical(module, function, call.func)) in (autogen_api.AGENT, autogen_api.TEAM):
                return True
        for mutation in function.mutations:
            head = mutation.base.split(".", 1)[0]
            if head == "self" or not function.is_local(head):
                return True
        return False

    # ---------- reachability ----------
    def _walk(self) -> None:
        queue: deque[FunctionRef] = deque()
        for ref, entry in self.entries.items():
            if ref in self.reach:
                continue
            module, function = self.resolver.function(ref)
            self.reach[ref] = Reach(entry, (ref[1],), ((ref, function.line),))
            queue.append(ref)
        while queue:
            ref = queue.popleft()
            reach = self.reach[ref]
            for callee, line in [*self.resolver.callees(ref), *self._object_callees(ref)]:
                if callee not in self.reach and callee[1] in self.resolver.modules[callee[0]].functions:
                    self.reach[callee] = Reach(reach.entry, reach.chain + (callee[1],), reach.hops + ((callee, line),))
                    queue.append(callee)

    def _object_callees(self, ref: FunctionRef) -> list[tuple[FunctionRef, int]]:
        """Methods called on a parameter typed with a project class (`ws: WebSocketManager =
        Depends(get_manager)` then `ws.start_stream(...)`) or on a local instance of one
        (`manager = TeamManager()` then `manager.run_stream(...)`): the call graph alone does not
        know what such a receiver holds."""
        module, function = self.resolver.function(ref)
        types: dict[str, str] = {name: type_text for name, type_text, _ in function.param_info if type_text}
        for assign in function.assigns:
            if len(assign.targets) == 1 and assign.targets[0].isidentifier() and assign.value.kind == "call" \
                    and assign.value.dotted[:1].isupper() and assign.targets[0] not in types:
                types[assign.targets[0]] = assign.value.dotted
        found: list[tuple[FunctionRef, int]] = []
        for call in function.calls:
            receiver = call.receiver
            if receiver not in types or not function.is_local(receiver):
                continue
            definition = self.resolver.definition(self.resolver.canonical(module, function, types[receiver]), module)
            if definition is None or definition.klass is None or definition.rest:
                continue
            target = self.resolver.method(definition.module, definition.klass.qualname, call.method)
            if target is not None and target[1] in self.resolver.modules[target[0]].functions:
                found.append((target, call.line))
        return found

    def request_functions(self):
        """(ref, module, function, reach) for every function on a request path, in stable order."""
        for ref in sorted(self.reach):
            module, function = self.resolver.function(ref)
            yield ref, module, function, self.reach[ref]

    def is_service_module(self, key: str) -> bool:
        return key in self.service_modules

    def is_one_off_script(self, key: str) -> bool:
        """A module with a `__main__` guard, no entry point and no web/worker framework import."""
        module = self.resolver.modules[key]
        return module.has_main_guard and key not in self.service_modules and not frameworks_imported(module)


def _first_string_from_call(call) -> str:
    for argument in call.args:
        if argument.kind == "str" and argument.text is not None:
            return argument.text
    return ""
