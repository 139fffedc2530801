"""Line suppressions: `# autogen-doctor: ignore[AD101, AD102]`, `# autogen-doctor: ignore`,
`# noqa: AD101` and bare `# noqa`.

A comment suppresses findings on its own line and on the line after it (so it can sit on the
line before a long statement). The same comment syntax works in Python, YAML, Dockerfiles,
Procfiles and shell-like configs, since all of them use `#` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALL_CODES: frozenset[str] = frozenset({"*"})

_DIRECTIVE = re.compile(
    r"#\s*(?:autogen-doctor\s*:\s*ignore(?:\[(?P<ad_codes>[^\]]*)\])?"
    r"|noqa(?:\s*:\s*(?P<noqa_codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?)",
    re.IGNORECASE,
)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One suppression comment: the line it is on and the codes it names (ALL_CODES for all).

    `kind` is "autogen-doctor" for our own directive and "noqa" for `# noqa`; `column` is the
    1-based column of the comment (used when reporting unused suppressions).
    """

    line: int
    codes: frozenset[str]
    kind: str = "autogen-doctor"
    column: int = 1

    @property
    def names_all(self) -> bool:
        return self.codes is ALL_CODES or "*" in self.codes

    def text(self) -> str:
        """The directive as a user would write it, for messages."""
        if self.kind == "noqa":
            return "# noqa" if self.names_all else "# noqa: " + ", ".join(sorted(self.codes))
        if self.names_all:
            return "# autogen-doctor: ignore"
        return "# autogen-doctor: ignore[" + ", ".join(sorted(self.codes)) + "]"

    def covers(self, code: str) -> bool:
        return self.codes is ALL_CODES or "*" in self.codes or code in self.codes


def parse_suppressions(text: str) -> list[Suppression]:
    """Every suppression comment in `text`, in line order. Cheap: skips lines without '#'."""
    found: list[Suppression] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        for match in _DIRECTIVE.finditer(line):
            raw = match.group("ad_codes")
            if raw is None:
                raw = match.group("noqa_codes")
            if raw is None:
                codes = ALL_CODES
            else:
                codes = frozenset(code.upper() for code in _CODE.findall(raw)) or ALL_CODES
            directive = match.group(0).lstrip("#").strip().lower()
            kind = "noqa" if directive.startswith("noqa") else "autogen-doctor"
            found.append(Suppression(line=number, codes=codes, kind=kind, column=match.start() + 1))
    return found


def find_suppression(suppressions: list[Suppression], code: str, line: int) -> Suppression | None:
    """The suppression that hides `code` reported at `line`, if any (same line or the line before)."""
    for suppression in suppressions:
        if suppression.line in (line, line - 1) and suppression.covers(code):
            return suppression
    return None
