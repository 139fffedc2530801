"""One way to make outside text safe to print.

Every byte of a scanned tree and of a service's replies is untrusted (see docs/security.md). A file
name, a YAML value or a pod header may carry newlines (forged report lines, GitHub workflow
commands such as ``::error``), ESC sequences (retitle or clear the terminal), C1 controls that some
terminals read as CSI, or bidi overrides that make text read differently from what it is.
``escape_text`` turns each of these into a visible escape, so the text stays on one line and shows
what it is. Every text, Markdown, JUnit, HTML and error-line writer calls it on outside text.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates,
# and the BOM / zero-width no-break space. Tabs and newlines are escaped too: one finding, one line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_text(text: object) -> str:
    """``text`` as a string with every control, separator and bidi character shown as an escape.

    Printable text (any script, emoji) is left as it is; the result never contains a newline.
    """
    value = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape_char, value)


def has_unsafe_text(text: str) -> bool:
    """True when ``escape_text`` would change ``text``."""
    return _UNSAFE.search(text) is not None
