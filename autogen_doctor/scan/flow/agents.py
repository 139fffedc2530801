"""Agents, teams and group chats built in a function, and whether history reaches them.

Shared by AD201 (built and run with nothing restored) and AD202 (rebuilt from component
config without load_state).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.facts import MODULE_BODY, Assign, Call, ClassInfo, Expr, Function, ModuleFacts
from autogen_doctor.scan.entrypoints import CONVERSATION_KEY
from autogen_doctor.scan.resolve import Resolver, class_assigns
from autogen_doctor.scan.flow.objects import (autogen_category, expr_autogen, is_cached_factory, returns_autogen,
                                              returns_autogen_tuple)

HISTORY_NAME = re.compile(
    r"(hist|messages|msgs|conversation|convo|transcript|previous|prior|past|turns|dialog|chat_log|"
    r"thread|saved|stored|state|memories|context)", re.IGNORECASE)
_STORE_READ = re.compile(r"(^|_)(get|hget|hgetall|lrange|load|loads|fetch\w*|read\w*|find\w*|query|select|"
                         r"retrieve|restore|json|all|first|one|scalars?)$"
                         r"|^a?(load|get|fetch|read|retrieve|restore)_\w*(hist|messages|conversation|chat|state|memory)",
                         re.IGNORECASE)
_NOT_A_RESTORE = frozenset({"print", "Console", "len", "str", "repr", "logging", "logger", "log", "info",
                            "debug", "warning", "error", "exception", "append", "gather", "create_task",
                            "ensure_future", "run_until_complete", "to_thread", "wait_for", "jsonable_encoder"})
_AGENT_CATEGORIES = frozenset({autogen_api.AGENT, autogen_api.TEAM})


@dataclass
class Built:
    """A local variable holding an agent/team built in this function."""

    var: str
    line: int
    col: int
    class_name: str
    how: str  # "constructor", "component", "factory"
    value: Expr
    factory: tuple[ModuleFacts, Function] | None = None
    # A project class that builds agents on `self` and runs them in its methods (how="wrapper").
    wrapper: "Wrapper | None" = None


@dataclass
class Wrapper:
    module: ModuleFacts
    klass: ClassInfo
    builds: list[tuple[Function, "Assign"]]  # (method, `self.x = Agent(...)`)
    running_methods: set[str]  # method names that (through self calls) run a built agent


@dataclass
class Flow:
    built: list[Built] = field(default_factory=list)
    runs: list[Call] = field(default_factory=list)
    restored: str | None = None  # how history came back, if it did
    loaded_history: tuple[str, int] | None = None  # (var, line) read from a store, maybe unused


def carries_history(function: Function, value: Expr | None, depth: int = 0) -> bool:
    """Does this argument plausibly carry earlier messages (not just the new one)?"""
    if value is None or depth > 3:
        return False
    if value.kind in ("comp", "binop"):
        return True
    if value.kind == "str" or value.kind == "const":
        return False
    if value.kind == "subscript" and value.text != "slice":
        # One element: `req["messages"]` is the history, `messages[-1]` is only the newest message.
        key = value.args[1] if len(value.args) > 1 else None
        return key is not None and key.kind == "str" and bool(HISTORY_NAME.search(key.text or ""))
    texts = [value.dotted] if value.dotted else []
    texts.extend(value.names)
    for text in texts:
        last = text.rsplit(".", 1)[-1]
        if HISTORY_NAME.search(last):
            return True
    for call in value.calls:
        if HISTORY_NAME.search(call.rsplit(".", 1)[-1]):
            return True
    if value.kind == "name":
        for assign in function.assigns:
            if value.dotted in assign.targets and carries_history(function, assign.value, depth + 1):
                return True
    if value.kind == "subscript" and any(HISTORY_NAME.search(text) for text in value.strings):
        return True  # req["messages"]
    if value.kind in ("list", "tuple"):
        return any(carries_history(function, element, depth + 1) for element in value.args)
    return False


def _opening_carries_history(function: Function, value: Expr | None) -> bool:
    """The opening message is built from earlier messages (`"\\n".join(history) + msg`, an f-string
    over the loaded history), not just the new one."""
    if value is None:
        return False
    candidates = [value]
    if value.kind == "name":
        candidates = [assign.value for assign in function.assigns if value.dotted in assign.targets]
    return any(candidate.kind in ("comp", "binop", "fstr", "call") and carries_history(function, candidate)
               for candidate in candidates)


# A classic agent's own message lists (`_oai_messages`, read as `chat_messages`), keyed by peer:
# setting them from stored messages before the run restores the conversation.
_MESSAGE_LISTS = frozenset({"_oai_messages", "chat_messages"})


def _restore_in(function: Function, built_vars: set[str], runner_calls: set[int]) -> str | None:
    for assign in function.assigns:
        for target in assign.targets:
            # Anything read from a history-named value counts here (`history["helper"]`): what
            # goes into an agent's message lists is messages.
            if target.rpartition(".")[2].replace("[]", "") in _MESSAGE_LISTS and (
                    carries_history(function, assign.value)
                    or any(HISTORY_NAME.search(name) for name in assign.value.names)):
                return f"`{target}` set from earlier messages"
    for call in function.calls:
        method = call.method
        if method in ("load_state", "aload_state"):
            return "load_state"
        if method in ("resume", "a_resume"):
            return "resume"
        if method == "send" and (call.kwarg("request_reply") is not None):
            return "send(..., request_reply=False)"
        if method in ("generate_reply", "a_generate_reply", "initiate_group_chat", "a_initiate_group_chat",
                      "run_group_chat", "a_run_group_chat", "initiate_swarm_chat", "a_initiate_swarm_chat") \
                and carries_history(function, call.kwarg("messages")):
            return f"{method}(messages=...)"
        if method in ("run", "run_stream", "on_messages", "on_messages_stream", "a_run") and \
                carries_history(function, call.arg(0, "task") if method.startswith(("run", "a_run")) else call.arg(0, "messages")):
            return f"{method} with earlier messages"
        if method in ("initiate_chat", "a_initiate_chat") and _opening_carries_history(function, call.arg(1, "message")):
            return "initiate_chat with earlier messages"
        if id(call) in runner_calls:
            continue
        # A built agent handed to some other function (e.g. `await restore(team, sid)`): assume it
        # may restore history there, rather than guess.
        if method not in _NOT_A_RESTORE and call.func.split(".", 1)[0] not in built_vars and \
                not method[:1].isupper() and \
                any(argument.kind == "name" and argument.dotted in built_vars
                    for argument in (*call.args, *(v for _, v in call.kwargs))):
            if autogen_api.RUN_METHODS.isdisjoint({method}) and method not in ("Console",):
                return f"passed to {call.func}()"
    return None


def _ctor_restores(resolver: Resolver, module: ModuleFacts, function: Function, built: Built) -> str | None:
    value = built.value
    messages = value.kwarg("messages")
    if messages is not None and not (messages.kind in ("list", "tuple") and messages.size == 0) and \
            carries_history(function, messages):
        return "messages="
    if value.kwarg("chat_messages") is not None:
        return "chat_messages="
    context = value.kwarg("model_context")
    if context is not None:
        candidates = [context]
        if context.kind == "name":
            candidates += [assign.value for assign in function.assigns if context.dotted in assign.targets]
        for candidate in candidates:
            if candidate.kind == "call" and candidate.kwarg("initial_messages") is not None:
                return "model_context with initial_messages"
            if candidate.kind == "call" and candidate.args and carries_history(function, candidate.args[0]):
                return "model_context with initial messages"
    memory = value.kwarg("memory")
    if memory is not None and not (memory.kind == "list" and all(
            element.kind == "call" and not element.args and not element.kwargs for element in memory.args)):
        return "memory="
    if value.kwarg("**") is not None:
        return "**kwargs"
    return None


def analyse(resolver: Resolver, module: ModuleFacts, function: Function) -> Flow:
    flow = Flow()
    for assign in function.assigns:
        if len(assign.targets) > 1 and assign.how == "assign" and assign.value.kind == "call":
            # `user_proxy, manager = build_pair()`: a factory returning a tuple of agents
            target = resolver.call_target(module, function, assign.value.dotted)
            if target is not None:
                factory_module, factory = resolver.function(target)
                for var, found in zip(assign.targets, returns_autogen_tuple(resolver, factory_module, factory)):
                    if found is not None and found[0] in _AGENT_CATEGORIES and var.isidentifier():
                        flow.built.append(Built(var, assign.line, assign.col, found[1], "factory", assign.value,
                                                (factory_module, factory)))
            continue
        if len(assign.targets) != 1 or assign.how not in ("assign", "annotated") or assign.value.kind != "call":
            continue
        var = assign.targets[0]
        if "." in var or "[" in var:
            continue
        value = assign.value
        if value.dotted.endswith((".load_component", "._from_config")) or value.dotted == "load_component":
            flow.built.append(Built(var, assign.line, assign.col, value.dotted.rsplit(".", 1)[0] or "component",
                                    "component", value))
            continue
        found = autogen_category(resolver, module, function, value.dotted)
        if found is not None:
            if found[0] in _AGENT_CATEGORIES:
                flow.built.append(Built(var, assign.line, assign.col, found[1], "constructor", value))
            continue
        target = resolver.call_target(module, function, value.dotted)
        if target is not None:
            factory_module, factory = resolver.function(target)
            if is_cached_factory(resolver, factory_module, factory):
                continue  # the same object every call: AD104/AD602, not a fresh agent
            returned = returns_autogen(resolver, factory_module, factory)
            if returned is not None and returned[0] in _AGENT_CATEGORIES:
                flow.built.append(Built(var, assign.line, assign.col, returned[1], "factory", value,
                                        (factory_module, factory)))
                continue
        wrapper = wrapper_of(resolver, module, function, value.dotted)
        if wrapper is not None:
            flow.built.append(Built(var, assign.line, assign.col, wrapper.klass.name, "wrapper", value, None, wrapper))
            continue
        if HISTORY_NAME.search(var) and _STORE_READ.search(value.dotted.rsplit(".", 1)[-1] or ""):
            flow.loaded_history = flow.loaded_history or (var, assign.line)
    # An object kept for later (`sessions[sid] = agent`, `agent = sessions.get(sid)` first) is
    # reused across requests, not fresh: that is AD1's business, not a missing restore.
    kept: set[str] = set()
    for assign in function.assigns:
        names = assign.value.names
        if assign.value.kind == "name" and any("[" in t or "." in t for t in assign.targets):
            kept.update(names)
        if len(assign.targets) == 1 and assign.value.kind not in ("call", "const") or (
                assign.value.kind == "call" and not any(b.line == assign.line for b in flow.built)):
            kept.update(t for t in assign.targets if any(b.var == t for b in flow.built))
    for call in function.calls:
        if call.method in ("set", "__setitem__", "setdefault", "append", "add", "put") and call.arg_names:
            kept.update(name for name in call.arg_names if any(b.var == name for b in flow.built)
                        and any(argument.kind == "name" and argument.dotted == name for argument in call.args))
    flow.built = [built for built in flow.built if built.var not in kept]
    if not flow.built:
        return flow
    built_vars = {built.var for built in flow.built}
    runner_calls: set[int] = set()
    wrappers = {built.var: built.wrapper for built in flow.built if built.wrapper is not None}
    # Calls of nested functions too: a streaming generator defined in the handler runs what the
    # handler built (`async def stream(): async for e in workflow.run_stream(...)`).
    nested_calls = [call for name in function.nested for call in (module.functions[name].calls if name in module.functions else ())
                    if not module.functions[name].is_local(call.func.split(".", 1)[0])]
    for call in [*function.calls, *nested_calls]:
        if wrappers:
            # `workflow.run(message)`, or `Thread(target=workflow.run, ...)`
            texts = [call.func] + [argument.dotted for argument in (*call.args, *(v for _, v in call.kwargs))
                                   if argument.kind == "attr"]
            if any(text.count(".") == 1 and text.split(".", 1)[0] in wrappers
                   and text.split(".", 1)[1] in wrappers[text.split(".", 1)[0]].running_methods for text in texts):
                flow.runs.append(call)
                runner_calls.add(id(call))
                continue
        receiver_is_built = call.receiver in built_vars
        passes_built = any(argument.kind == "name" and argument.dotted in built_vars
                           for argument in (*call.args, *(v for _, v in call.kwargs)))
        if call.method in autogen_api.RUN_METHODS and (receiver_is_built or passes_built):
            flow.runs.append(call)
            runner_calls.add(id(call))
        elif call.method in autogen_api.RUN_FUNCTIONS and passes_built:
            flow.runs.append(call)
            runner_calls.add(id(call))
    if not flow.runs:
        return flow
    if all(run.in_loop for run in flow.runs):
        # Built once, then run for every message of a receive loop (one websocket connection):
        # the object itself carries the conversation from turn to turn.
        outside = [built for built in flow.built if not any(
            call.line == built.line and call.in_loop for call in function.calls if call.func == built.value.dotted)]
        if outside and len(outside) == len(flow.built):
            flow.restored = "kept across the turns of one connection"
            return flow
    flow.restored = _restore_in(function, built_vars, runner_calls)
    if flow.restored is None:
        for built in flow.built:
            if built.wrapper is not None:
                flow.restored = _wrapper_restores(resolver, function, built)
                if flow.restored is not None:
                    break
                continue
            flow.restored = _ctor_restores(resolver, module, function, built)
            if flow.restored is None and built.factory is not None:
                factory_module, factory = built.factory
                flow.restored = _restore_in(factory, set(), set())
                if flow.restored is None:
                    for inner in analyse_builds_only(resolver, factory_module, factory):
                        flow.restored = _ctor_restores(resolver, factory_module, factory, inner)
                        if flow.restored:
                            break
                if flow.restored is None and any(carries_history(function, argument) for argument in built.value.args) \
                        or any(carries_history(function, v) for _, v in built.value.kwargs):
                    flow.restored = "history passed to the factory"
            if flow.restored is not None:
                break
    return flow


def unrestored_request_runs(state) -> Iterator[tuple[Any, ModuleFacts, Function, Any, Flow]]:
    """Request functions that build and run agents with nothing restored: (ref, module, function,
    reach, flow), for AD201 (agents built in code) and AD202 (teams built from component config)."""
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        flow = analyse(resolver, module, function)
        if flow.runs and flow.restored is None:
            yield ref, module, function, reach, flow


def analyse_builds_only(resolver: Resolver, module: ModuleFacts, function: Function) -> list[Built]:
    found: list[Built] = []
    for assign in function.assigns:
        if assign.value.kind == "call":
            category = autogen_category(resolver, module, function, assign.value.dotted)
            if category is not None and category[0] in _AGENT_CATEGORIES:
                found.append(Built(assign.targets[0] if assign.targets else "", assign.line, assign.col,
                                   category[1], "constructor", assign.value))
    for value in function.returns:
        if value.kind == "call":
            category = autogen_category(resolver, module, function, value.dotted)
            if category is not None and category[0] in _AGENT_CATEGORIES:
                found.append(Built("", 0, 0, category[1], "constructor", value))
    return found


def wrapper_of(resolver: Resolver, module: ModuleFacts, function: Function, text: str) -> Wrapper | None:
    """The project class `text` constructs, when it builds AutoGen agents/teams on `self` and runs
    them in a method (`AutogenWorkflow()` whose `__init__` builds a GroupChat and `run()` chats)."""
    if not text or "(" in text or "[" in text:
        return None
    definition = resolver.definition(resolver.canonical(module, function, text), module)
    if definition is None or definition.klass is None or definition.rest:
        return None
    if autogen_category(resolver, module, function, text) is not None:
        return None  # an AutoGen subclass is an agent itself
    class_module, klass = definition.module, definition.klass
    builds: list[tuple[Function, Assign]] = []
    for method_function, assign in class_assigns(class_module, klass):
        if len(assign.targets) == 1 and assign.targets[0].startswith("self.") and assign.value.kind == "call":
            found = expr_autogen(resolver, class_module, method_function, assign.value)
            # a runtime made here registers fresh agents on it: as fresh as building them
            if found is not None and (found[0] in _AGENT_CATEGORIES or found[0] == autogen_api.RUNTIME):
                builds.append((method_function, assign))
    if not builds:
        return None
    running: set[str] = set()
    direct = set()
    for method in klass.methods:
        method_function = class_module.functions.get(method)
        if method_function is None:
            continue
        if any(call.method in autogen_api.RUN_METHODS and call.receiver.startswith("self.") for call in method_function.calls):
            direct.add(method_function.name)
    running |= direct
    for _ in range(3):  # methods that call a running method on self
        for method in klass.methods:
            method_function = class_module.functions.get(method)
            if method_function is not None and any(
                    call.func.startswith("self.") and call.method in running for call in method_function.calls):
                running.add(method_function.name)
    if not running:
        return None
    return Wrapper(class_module, klass, builds, running)


def _wrapper_restores(resolver: Resolver, function: Function, built: Built) -> str | None:
    wrapper = built.wrapper
    for method in wrapper.klass.methods:
        method_function = wrapper.module.functions.get(method)
        if method_function is None:
            continue
        found = _restore_in(method_function, set(), set())
        if found is not None and not found.startswith("passed to"):
            return found
    for method_function, assign in wrapper.builds:
        inner = Built(assign.targets[0], assign.line, assign.col, "", "constructor", assign.value)
        found = _ctor_restores(resolver, wrapper.module, method_function, inner)
        # History from the wrapper's own parameters (`GroupChat(messages=history or [])`) counts
        # only when the caller passes it: checked below.
        from_params = set(method_function.params) & assign.value.names - {"self"}
        if found is not None and not from_params:
            return found
    if any(carries_history(function, argument) for argument in built.value.args) or \
            any(carries_history(function, value) for _, value in built.value.kwargs):
        return "history passed to the wrapper"
    for call in function.calls:  # history handed to the running method
        if call.receiver == built.var and (any(carries_history(function, argument) for argument in call.args)
                                           or any(carries_history(function, value) for _, value in call.kwargs)):
            return f"history passed to {call.func}()"
    return None


# A narrower history vocabulary than HISTORY_NAME: words that name earlier turns of one
# conversation, not any saved value or context (`state`, `context`, `saved` say nothing about turns).
_TURNS_NAME = re.compile(r"(hist|^messages$|^msgs$|chat_messages|conversation|convo|transcript|chat_log|dialog|"
                         r"turns$|_messages$)", re.IGNORECASE)  # not `thread`: threading.Thread
# Framework callbacks that are one turn of a longer conversation by construction.
_TURN_CALLBACKS = ("@on_message", "@on_chat_resume", "websocket", "IOWebsockets", "ChatInterface")
_CHAT_ENDPOINT = re.compile(r"(^|[/_\-{])(chat|chats|converse|conversation|conversations|messages?|dialog|reply)"
                            r"($|[/_\-}])", re.IGNORECASE)
_STREAMLIT_CHAT = frozenset({"chat_input", "chat_message"})


def _key_like(text: str) -> bool:
    return bool(CONVERSATION_KEY.match(text.rsplit(".", 1)[-1]))


def _conversation_in(function: Function) -> str | None:
    """Does this function take or read a conversation key or earlier turns?"""
    for param in function.params:
        if _key_like(param):
            return f"takes `{param}`"
        if _TURNS_NAME.search(param):
            return f"takes `{param}`"
    values = [assign.value for assign in function.assigns]
    values += [argument for call in function.calls for argument in (*call.args, *(v for _, v in call.kwargs))]
    for value in values:
        if value is None:
            continue
        # `req.session_id`, `request.json["session_id"]`, `data.get("conversation_id")`
        if value.dotted and value.kind in ("attr", "subscript") and _key_like(value.dotted):
            return f"reads `{value.dotted}`"
        for text in value.strings:
            if _key_like(text):
                return f"reads `{text}`"
        # a client-sent history field: `body["messages"]`, `body["messages"][-1]`, `data.get("history")`
        for candidate in (value, *(value.args[:1] if value.kind == "subscript" else ())):
            key = candidate.args[1] if candidate.kind == "subscript" and len(candidate.args) > 1 else (
                candidate.args[0] if candidate.kind == "call" and candidate.dotted.endswith(".get") and candidate.args
                else None)
            if key is not None and key.kind == "str" and _TURNS_NAME.search(key.text or ""):
                return f"reads `{key.text}`"
    for assign in function.assigns:
        for target in assign.targets:
            if target.isidentifier() and _TURNS_NAME.search(target):
                return f"keeps `{target}`"
    return None


def conversation_evidence(resolver: Resolver, reach, module: ModuleFacts, function: Function,
                          flow: Flow) -> str | None:
    """Why this request path is one turn of a longer conversation, or None when nothing says so.

    A per-request agent is only "not rehydrated" when there was something to rehydrate: a
    conversation key on the request path (its parameters, the body fields it reads), a history
    concept (history loaded, a history parameter or variable), a framework callback that is one
    message of a chat (Chainlit `@on_message`, a websocket handler, a Streamlit chat script), or
    a multi-turn loop that rebuilds the agent each turn. A one-shot endpoint (classify, summarise,
    a one-task demo) has none of these, and building its agent per request is the right design.
    """
    if flow.loaded_history is not None:
        return f"history is loaded into `{flow.loaded_history[0]}`"
    description = reach.entry.description
    if any(marker.lower() in description.lower() for marker in _TURN_CALLBACKS):
        return f"each {description} is one turn of a conversation"
    if reach.entry.framework not in ("Chainlit", "Streamlit"):
        # `POST /chat`, `def converse(...)`: the endpoint says it is a turn of a chat
        entry_name = reach.chain[0].rsplit(".", 1)[-1] if reach.chain else ""
        for text in (description.split(" ")[-1], entry_name):
            if _CHAT_ENDPOINT.search(text):
                return f"`{text}` is a chat endpoint"
    for ref, _line in reach.hops or ((None, 0),):
        hop_module, hop = (module, function) if ref is None else resolver.function(ref)
        if hop_module.functions.get(MODULE_BODY) is hop and any(
                call.method in _STREAMLIT_CHAT for call in hop.calls):
            return "a Streamlit chat script reruns once per message"
        found = _conversation_in(hop)
        if found is not None:
            return f"`{hop.qualname}` {found}"
        for name in hop.nested:
            nested = hop_module.functions.get(name)
            if nested is not None and (found := _conversation_in(nested)) is not None:
                return f"`{nested.qualname}` {found}"
    found = _conversation_in(function)
    if found is not None:
        return f"`{function.qualname}` {found}"
    for built in flow.built:
        if any(call.line == built.line and call.in_loop for call in function.calls if call.func == built.value.dotted) \
                and any(run.in_loop for run in flow.runs):
            return "it is rebuilt and run on every turn of a loop"
    return None
