"""Module-level AutoGen objects used on a request path (AD105, AD106, AD602)."""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.autogen_api import RUN_METHODS
from autogen_doctor.scan.flow.objects import autogen_category


def shared_uses(state, categories: frozenset[str]) -> Iterator[tuple]:
    """(module, function, reach, call, definition, category, class name), once per function and object."""
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        seen: set[tuple[str, str]] = set()
        for call in function.calls:
            texts = []
            if call.receiver:
                texts.append(call.receiver)
            texts.extend(argument.dotted for argument in (*call.args, *(v for _, v in call.kwargs))
                         if argument.kind in ("name", "attr"))
            for text in texts:
                if "(" in text or "[" in text or function.is_local(text.split(".", 1)[0]):
                    continue
                found = resolver.module_value(module, function, text)
                if found is None:
                    continue
                definition, value = found
                if value.kind != "call":
                    continue
                category = autogen_category(resolver, definition.module, None, value.dotted)
                if category is None or category[0] not in categories:
                    continue
                marker = (definition.module.name, definition.name)
                if marker in seen:
                    continue
                seen.add(marker)
                yield module, function, reach, call, definition, category[0], category[1]


def keeps_conversation(state, module, function, reach, call, definition, class_name: str) -> bool:
    """Does this use of a module-level agent/team put the caller's turn into the object's own,
    shared history? Not when a Streamlit script rebuilds its own globals on every rerun, not for a
    classic `generate_reply(messages=[...])` (answers from the given messages, stores none; an
    OpenAI-Assistant agent is the exception: it posts them to its one thread), and not for a
    classic `initiate_chat` with a recipient built for this request (classic agents keep one
    message list per partner, so a fresh partner means a fresh thread; the same for a classic
    GroupChat built for this request around them)."""
    from autogen_doctor.scan.entrypoints import STREAMLIT

    if reach.entry.framework == STREAMLIT and definition.module is module:
        return False
    if call.receiver and call.method not in RUN_METHODS and _project_method_without_run(state, definition, call.method):
        return False  # `spokesman.set_response(r)`: the project's own setter, no conversation turn
    if call.method in ("generate_reply", "a_generate_reply") and call.receiver and \
            (call.kwarg("messages") is not None or call.args) and class_name != "GPTAssistantAgent":
        return False
    if call.method[:1].isupper():
        # A classic GroupChat built for this request around module agents: their message lists are
        # kept per partner (the new manager), so nothing is shared through them.
        found = autogen_category(state.resolver, module, function, call.func)
        if found is not None and found[0] == "team" and \
                state.resolver.canonical(module, function, call.func).split(".", 1)[0] in ("autogen", "ag2", "pyautogen"):
            return False
    if call.method in ("initiate_chat", "a_initiate_chat", "initiate_chats", "a_initiate_chats"):
        partner = call.arg(0, "recipient")
        if partner is not None and partner.kind == "name" and function.is_local(partner.dotted):
            return False
        if call.receiver and "." not in call.receiver and function.is_local(call.receiver):
            return False  # a per-request initiator: the shared agent keeps this thread under it
    return True


def _project_method_without_run(state, definition, method: str) -> bool:
    """`method` is defined by the project's own subclass and runs no chat itself."""
    value = definition.assign.value if definition.assign is not None else None
    if value is None or value.kind != "call":
        return False
    klass = state.resolver.definition(state.resolver.canonical(definition.module, None, value.dotted), definition.module)
    if klass is None or klass.klass is None:
        return False
    target = state.resolver.method(klass.module, klass.klass.qualname, method)
    if target is None:
        return False
    _, function = state.resolver.function(target)
    return not any(call.method in RUN_METHODS for call in function.calls)


def global_read_elsewhere(state, module, function, name: str) -> bool:
    """Is module global `name` read by a function other than `function` that runs on a request
    path? A global only written per request (a "last team" kept for a stop button, a write-only
    variable) carries nothing from one user's request into another's. A function where `name` is
    a local (or a `nonlocal` of an enclosing function) reads its own variable, not the global."""
    entry_points = state.entry_points
    key_of = state.resolver.key_of
    for other_module in state.resolver.modules.values():
        if other_module is not module and name not in other_module.imports and \
                not any(target.endswith("." + name) for target in other_module.imports.values()):
            continue
        other_key = key_of[id(other_module)]
        for qualname, other in other_module.functions.items():
            if other is function or (other_key, qualname) not in entry_points.reach:
                continue
            if other_module is module and other.is_local(name):
                continue
            if any(name in call.arg_names or call.func.split(".", 1)[0] == name for call in other.calls) or \
                    any(name in assign.value.names for assign in other.assigns) or \
                    any(name in value.names for value in other.returns) or \
                    any(mutation.base.split(".", 1)[0] == name for mutation in other.mutations):
                return True
    return False


_CLASSIC_ROOTS = ("autogen", "ag2", "pyautogen")


def clears_history_each_run(state, definition, call) -> bool:
    """A classic `initiate_chat` on module-level agents that keeps the default
    `clear_history=True`: each run wipes the pair's message lists first, so nothing of one request
    is kept for the next (no per-process state to lose, AD1); the harm is that concurrent requests
    share those lists while they run (one conversation for everyone, AD602)."""
    if call.method not in ("initiate_chat", "a_initiate_chat"):
        return False
    value = definition.assign.value if definition.assign is not None else None
    if value is None or value.kind != "call":
        return False
    root = state.resolver.canonical(definition.module, None, value.dotted).split(".", 1)[0]
    if root not in _CLASSIC_ROOTS:
        return False
    # Only the default is known to clear: facts keep no value for `True`/`False` constants, and
    # the second positional argument is `clear_history`.
    return call.kwarg("clear_history") is None and len(call.args) < 2
