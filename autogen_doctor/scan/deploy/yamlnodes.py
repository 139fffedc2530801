"""YAML as position-carrying nodes (`yaml.compose`, safe loader only: nothing is constructed,
so no tag can run code), split into documents, with small accessors for the parsers.

Each document is composed on its own so that a multi-megabyte bundle of CRDs does not cost a
full parse: in files over `_LARGE_FILE` characters only documents whose `kind:` or `services:`
can matter are composed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import yaml

from autogen_doctor.scan.deploy.facts import DeployParseError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_LARGE_FILE = 512 * 1024
_INTERESTING = re.compile(
    r"^\s*(?:kind\s*:\s*[\"']?(?:Deployment|StatefulSet|ReplicaSet|ReplicationController|Rollout|"
    r"DeploymentConfig|Pod|Job|CronJob|DaemonSet|HorizontalPodAutoscaler|ScaledObject|Kustomization|List|Service)\b"
    r"|services\s*:)",
    re.MULTILINE,
)
# Helm's own objects and functions, wherever they appear.
_HELM_ACTION = re.compile(
    r"\{\{-?\s*(?:\.Values\b|\.Release\b|\.Chart\b|\.Capabilities\b|include\s|template\s|toYaml\s)"
)
# A line that is a Go/Helm or Jinja control action: such a file is not YAML until rendered.
# (`{{ $labels.instance }}` inside a Prometheus alert's text is content, not a template.)
_TEMPLATE_LINE = re.compile(
    r"^[ \t]*(?:\{\{-?\s*(?:if|else|end|range|with|define)\b|\{\{-\s|\{%-?\s*(?:if|for|set|include|macro|block)\b)",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Document:
    node: yaml.Node
    base: int  # offset of the document's text in the file


def looks_like_template(text: str) -> bool:
    """True for Helm charts' templates and Jinja-templated YAML: some line is a control action."""
    if "{{" not in text and "{%" not in text:
        return False
    return _TEMPLATE_LINE.search(text) is not None or _HELM_ACTION.search(text) is not None


# libyaml composes recursively in C: tens of thousands of nested levels crash the interpreter
# (a segfault, not an exception), so absurd nesting is refused before parsing.
MAX_NESTING = 1000
_BLOCK_LEAD = re.compile(r"^[ \t]*(?:[-?:][ \t]+)*", re.MULTILINE)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _check_nesting(text: str) -> None:
    """DeployParseError when flow brackets or block indentation nest deeper than MAX_NESTING."""
    brackets = _NOT_BRACKET.sub("", text)
    if len(brackets) > 2 * MAX_NESTING:
        depth = 0
        for char in brackets:
            depth += 1 if char in "[{" else -1
            if depth > MAX_NESTING:
                raise DeployParseError(f"YAML nested more than {MAX_NESTING} levels deep; not parsed")
    for match in _BLOCK_LEAD.finditer(text):
        if match.end() - match.start() > MAX_NESTING:
            line = text.count("\n", 0, match.start()) + 1
            raise DeployParseError(f"YAML nested more than {MAX_NESTING} levels deep at line {line}; not parsed")


def documents(text: str) -> Iterator[Document]:
    """Every non-empty document, composed; DeployParseError (with the line) for broken YAML."""
    _check_nesting(text)
    starts = [match.start() for match in _DOCUMENT_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = list(zip(starts, starts[1:] + [len(text)]))
    large = len(text) > _LARGE_FILE
    for start, end in bounds:
        chunk = text[start:end]
        if large and not _INTERESTING.search(chunk):
            continue
        try:
            node = yaml.compose(chunk, Loader=_LOADER)
        except yaml.MarkedYAMLError as error:
            before = text.count("\n", 0, start)
            mark = error.problem_mark or error.context_mark
            line = before + (mark.line + 1 if mark else 1)
            message = f"invalid YAML at line {line}: {(error.problem or error.context or 'syntax error').strip()}"
            if error.context and error.context_mark is not None and error.problem:
                message += f" ({error.context.strip()} started at line {before + error.context_mark.line + 1})"
            raise DeployParseError(message) from None
        except yaml.reader.ReaderError as error:
            line = text.count("\n", 0, start + max(0, error.position)) + 1
            character = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or " ")
            raise DeployParseError(f"invalid YAML at line {line}: character #x{character:04x} is not allowed") from None
        except yaml.YAMLError as error:
            raise DeployParseError(f"invalid YAML: {' '.join(str(error).split())}") from None
        except RecursionError:
            raise DeployParseError(f"YAML nesting too deep near line {text.count(chr(10), 0, start) + 1}") from None
        if node is not None:
            yield Document(node, start)


def items(node: yaml.Node | None) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """(key, key node, value node) of a mapping, with `<<: *anchor` merge keys flattened
    (explicit keys win, then earlier merges, as YAML merge keys specify).

    Each merged mapping is visited once: libyaml accepts recursive aliases, and a "billion
    laughs" of nested merges must not expand exponentially."""
    if not isinstance(node, yaml.MappingNode):
        return []
    found: list[tuple[str, yaml.Node, yaml.Node]] = []
    keys: set[str] = set()
    seen: set[int] = set()
    queue: list[yaml.Node] = [node]
    while queue:
        current = queue.pop(0)
        if id(current) in seen or not isinstance(current, yaml.MappingNode):
            continue
        seen.add(id(current))
        merges: list[yaml.Node] = []
        for key_node, value_node in current.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == "tag:yaml.org,2002:merge" or key_node.value == "<<":
                merges.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
            elif key_node.value not in keys:
                keys.add(key_node.value)
                found.append((key_node.value, key_node, value_node))
        queue.extend(merges)
    return found


def get(node: yaml.Node | None, *path: str) -> yaml.Node | None:
    """The value node at `path` in nested mappings, or None."""
    for key in path:
        found = None
        for name, _, value in items(node):
            if name == key:
                found = value
                break
        if found is None:
            return None
        node = found
    return node


def scalar(node: yaml.Node | None) -> str | None:
    """A scalar's text; None for mappings, sequences, missing values and `null`."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        return None
    return node.value


def sequence(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def is_true(node: yaml.Node | None) -> bool:
    text = scalar(node)
    return text is not None and text.strip().lower() in ("true", "yes", "on", "y")


def start(node: yaml.Node, document: Document) -> int:
    """Offset of the node's first character in the file."""
    return document.base + node.start_mark.index


def end(node: yaml.Node, document: Document) -> int:
    return document.base + node.end_mark.index
