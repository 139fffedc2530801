"""Secrets never reach a report or a recording: headers, URL credentials and JSON body keys."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
_ALWAYS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_SECRET_WORDS = re.compile(r"auth|token|secret|passw|pwd|key|credential|signature|cookie|session-?token",
                           re.IGNORECASE)
# Identity and plain-data headers that contain a secret-looking word but are not secrets.
_NOT_SECRET = {"keep-alive"}


def is_secret_name(name: str) -> bool:
    """True for Authorization, Cookie, Set-Cookie and names like X-Api-Key, token, password."""
    lowered = name.strip().lower()
    if lowered in _NOT_SECRET:
        return False
    return lowered in _ALWAYS or bool(_SECRET_WORDS.search(lowered))


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict with secret values replaced (repeated names joined with ', ')."""
    result: dict[str, str] = {}
    for name, value in headers:
        shown = REDACTED if is_secret_name(name) else value
        result[name] = f"{result[name]}, {shown}" if name in result else shown
    return result


def redact_url(url: str) -> str:
    """Drop user:password@ and hide query parameters named like secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(key) for key, _ in pairs):
            query = urlencode([(key, REDACTED if is_secret_name(key) else value) for key, value in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_document(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: (REDACTED if isinstance(key, str) and is_secret_name(key) and not isinstance(item, (dict, list))
                      else _redact_document(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_document(item) for item in value]
    return value


def redact_body(body: str) -> str:
    """A JSON request body with values of secret-named keys hidden; other text unchanged."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    redacted = _redact_document(document)
    return body if redacted == document else json.dumps(redacted, ensure_ascii=False)
