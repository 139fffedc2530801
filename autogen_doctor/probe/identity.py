"""Which backend served a reply: the pair (pod, pid), from flags or common headers."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from autogen_doctor.probe.extract import lookup
from autogen_doctor.probe.transcript import Backend

COMMON_PID_HEADERS = ("X-Backend-Pid", "X-Pid", "X-Worker-Pid", "X-Process-Id")
COMMON_POD_HEADERS = ("X-Backend-Pod", "X-Pod-Name", "X-Pod", "X-Hostname", "X-Served-By", "X-Instance-Id")


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _from_documents(documents: Iterable[Any], path: str) -> str | None:
    for document in documents:
        found = _clean(lookup(document, path))
        if found is not None:
            return found
    return None


def identify(
    headers: Mapping[str, str],
    documents: Iterable[Any],
    *,
    pid_header: str | None = None,
    pod_header: str | None = None,
    pid_path: str | None = None,
    pod_path: str | None = None,
) -> tuple[Backend, str | None]:
    """The backend of one reply and where it came from ("header X-Pid", "json pid", ...).

    Flags win over the common headers; a part asked for by a flag is never guessed from a
    common header, so a misspelt flag shows as an unknown backend instead of a wrong one.
    Header names match case-insensitively.
    """
    documents = list(documents)
    sources: list[str] = []
    # One lower-cased dict, then plain lookups: ten common names are tried per reply.
    by_name = {name.lower(): value for name, value in headers.items()}

    def pick(header_flag, path_flag, common) -> str | None:
        if header_flag:
            value = _clean(by_name.get(header_flag.lower()))
            if value is not None:
                sources.append(f"header {header_flag}")
            return value
        if path_flag:
            value = _from_documents(documents, path_flag)
            if value is not None:
                sources.append(f"json {path_flag}")
            return value
        for name in common:
            value = _clean(by_name.get(name.lower()))
            if value is not None:
                sources.append(f"header {name}")
                return value
        return None

    pid = pick(pid_header, pid_path, COMMON_PID_HEADERS)
    pod = pick(pod_header, pod_path, COMMON_POD_HEADERS)
    return Backend(pod=pod, pid=pid), (", ".join(sources) or None)
