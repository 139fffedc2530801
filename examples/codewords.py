"""What the offline example models answer: every `adr-...` codeword in the texts they were given.

`autogen-doctor probe` plants one codeword per turn and asks for all of them. A model that sees
the whole conversation lists them all; one whose history was lost lists fewer. Standard library
only, shared by the AgentChat model client and the classic-API reply function.
"""

from __future__ import annotations

import re
from typing import Iterable

CODEWORD = re.compile(r"\badr-[a-z0-9]+(?:-[a-z0-9]+)*", re.IGNORECASE)


def codewords_in(texts: Iterable[str]) -> list[str]:
    """Every distinct codeword in `texts`, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in CODEWORD.findall(text):
            seen.setdefault(match.lower(), None)
    return list(seen)


def answer(texts: Iterable[str]) -> str:
    """The reply to a conversation made of `texts`."""
    words = codewords_in(texts)
    if not words:
        return "You have not given me any codeword yet."
    return "The codewords you have given me so far: " + ", ".join(words) + "."
