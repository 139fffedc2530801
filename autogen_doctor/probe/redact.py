"""Secrets never reach a report, a recording or an error line: the one redaction mechanism of the probe.

What counts as a secret (documented in docs/security.md and docs/probe.md):
- a header, JSON body key, query parameter or environment variable whose name matches
  SECRET_NAME_PATTERN (Authorization, Cookie, X-Api-Key, X-Api-Pass, password, bearer, token, ...),
  and every value nested under such a key (lists and objects included);
- the user:password part of a URL;
- every value the probe itself sent as a secret (`Secrets`): if the service echoes one back,
  in its reply text, a response header or an error page, it is replaced by [redacted] there too.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
_ALWAYS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
# Any name containing one of these words is a secret's name.
SECRET_NAME_PATTERN = (r"auth|token|secret|pass|pwd|key|credential|signature|cookie|bearer|private|jwt"
                       r"|session-?token")
_SECRET_WORDS = re.compile(SECRET_NAME_PATTERN, re.IGNORECASE)
# Names that contain a secret-looking word but are plain data.
_NOT_SECRET = {"keep-alive", "passage", "bypass", "compass", "keyword", "keywords"}
# A value shorter than this is not scrubbed from replies: it would replace ordinary words.
MIN_SCRUB_LENGTH = 4
# scheme://user:password@ in text that may not parse as a URL at all.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")


def is_secret_name(name: str) -> bool:
    """True for Authorization, Cookie, Set-Cookie and names like X-Api-Key, X-Api-Pass, token, password."""
    lowered = name.strip().lower()
    if lowered in _NOT_SECRET:
        return False
    return lowered in _ALWAYS or bool(_SECRET_WORDS.search(lowered))


def redact_headers(headers: Iterable[tuple[str, str]], secrets: "Secrets | None" = None) -> dict[str, str]:
    """Headers as a dict with secret values replaced (repeated names joined with ', ').

    With `secrets`, any value the probe sent as a secret is also scrubbed from other headers.
    """
    result: dict[str, str] = {}
    for name, value in headers:
        shown = REDACTED if is_secret_name(name) else (secrets.scrub(value) if secrets else value)
        result[name] = f"{result[name]}, {shown}" if name in result else shown
    return result


def redact_url(url: str) -> str:
    """Drop user:password@ and hide query parameters named like secrets; works on broken URLs too."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return _USERINFO.sub(lambda match: f"{match.group(1)}{REDACTED}@", url)
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(key) for key, _ in pairs):
            query = urlencode([(key, REDACTED if is_secret_name(key) else value) for key, value in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_all(item) for item in value]
    return REDACTED


def _redact_document(value: Any) -> Any:
    # Iterative would be nicer, but a body is the user's own template (bounded by check_body_template).
    if isinstance(value, dict):
        return {key: (_redact_all(item) if isinstance(key, str) and is_secret_name(key) else _redact_document(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_document(item) for item in value]
    return value


def _secret_leaves(value: Any, under_secret: bool, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _secret_leaves(item, under_secret or (isinstance(key, str) and is_secret_name(key)), found)
    elif isinstance(value, list):
        for item in value:
            _secret_leaves(item, under_secret, found)
    elif under_secret and value is not None and not isinstance(value, bool):
        found.append(str(value))


def redact_body(body: str) -> str:
    """A JSON request body with every value under a secret-named key hidden; other text unchanged."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body
    redacted = _redact_document(document)
    return body if redacted == document else json.dumps(redacted, ensure_ascii=False)


def redact_assignments(command: str) -> str:
    """A `--serve` command line with NAME=value assignments redacted: secret-named ones hidden, URL
    credentials dropped from the rest. Used for every report, the comparison line and JSON "serve"."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return _USERINFO.sub(lambda match: f"{match.group(1)}{REDACTED}@", command)
    shown = []
    for token in tokens:
        name, sep, value = token.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            shown.append(f"{name}={REDACTED if is_secret_name(name) else shlex.quote(redact_url(value))}")
        elif sep and name.startswith("-") and is_secret_name(name):  # --api-key=...
            shown.append(f"{name}={REDACTED}")
        else:
            shown.append(shlex.quote(redact_url(token)))
    return " ".join(shown)


class Secrets:
    """The secret values one run sends, so that an echo of them can be scrubbed wherever it lands."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        """Remember `value` (and, for `Scheme token`, the token alone) as a secret."""
        if not value:
            return
        value = value.strip()
        candidates = {value}
        scheme, _, token = value.partition(" ")
        if token.strip() and scheme.isalpha():
            candidates.add(token.strip())
        for candidate in candidates:
            if len(candidate) >= MIN_SCRUB_LENGTH:
                self._values.add(candidate)
        self._pattern = None

    def add_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        for name, value in headers:
            if is_secret_name(name):
                self.add(value)

    def add_url(self, url: str) -> None:
        """URL credentials (as typed, decoded, and as the Basic header they become) and secret query values."""
        try:
            parts = urlsplit(url)
            username, password = parts.username, parts.password
            query = parts.query
        except ValueError:
            return
        for value in (username if password else None, password):
            if value:
                self.add(value)
                self.add(unquote(value))
        if username is not None and password is not None:
            pair = f"{unquote(username)}:{unquote(password)}".encode()
            self.add(base64.b64encode(pair).decode())
        for key, value in parse_qsl(query, keep_blank_values=True):
            if is_secret_name(key):
                self.add(value)

    def add_body(self, body: str) -> None:
        """Values under secret-named keys of a JSON body (template placeholders excluded)."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return
        found: list[str] = []
        _secret_leaves(document, False, found)
        for value in found:
            if "{" not in value:
                self.add(value)

    def scrub(self, text: str) -> str:
        """`text` with every known secret replaced by [redacted]."""
        if not self._values or not text:
            return text
        if self._pattern is None:
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: a token inside its header
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._values)
