"""Find the files to scan under each PATH.

Python files (`.py`) and deployment files (as recognised by `autogen_doctor.scan.deploy`).
`.gitignore` files are honoured (the ones above a PATH up to the repository root, and nested
ones), virtualenvs, `site-packages`, `node_modules`, caches and build outputs are skipped,
and a symlink is followed only when it points inside the PATH it was found under.
A file named explicitly on the command line is always scanned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pathspec

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.deploy import is_deploy_file
from autogen_doctor.scan.paths import absolute, display_path

# Directory names never descended into (ruff and bandit skip the same kinds of places).
SKIPPED_DIR_NAMES = frozenset({
    ".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", "dist-packages",
    ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    "build", "dist", ".eggs", ".autogen-doctor-cache",
})

PYTHON = "python"
DEPLOY = "deploy"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to scan: where it is, how it is shown, what kind it is, and its scan root."""

    path: Path  # absolute
    display: str
    kind: str  # PYTHON or DEPLOY
    root: Path  # the PATH (directory) it was found under, or its own folder


def classify(path: Path) -> str | None:
    """PYTHON, DEPLOY, or None when the file is not something scan reads."""
    # Deployment names first: gunicorn.conf.py is Python, but what matters in it is `workers = N`.
    if is_deploy_file(path):
        return DEPLOY
    if path.suffix == ".py":
        return PYTHON
    return None


def classify_named(path: Path) -> str | None:
    """What a file named on the command line is read as: like `classify`, and a script without
    a suffix (`bin/serve`) as Python; None for a file scan does not read (a README)."""
    kind = classify(path)
    if kind is None and path.suffix == "":
        return PYTHON
    return kind


def _is_skipped_dir(entry: os.DirEntry) -> bool:
    name = entry.name
    if name in SKIPPED_DIR_NAMES or name.endswith(".egg-info"):
        return True
    # Any virtualenv, whatever its name, has a pyvenv.cfg at its top.
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


class _IgnoreRules:
    """The .gitignore files that apply to one directory, each with the directory it sits in."""

    def __init__(self, specs: tuple[tuple[Path, pathspec.PathSpec], ...] = ()) -> None:
        self.specs = specs

    def with_dir(self, directory: Path) -> "_IgnoreRules":
        spec = _load_gitignore(directory)
        return _IgnoreRules(self.specs + ((directory, spec),)) if spec is not None else self

    def ignores(self, path: Path | str, is_dir: bool) -> bool:
        if not self.specs:
            return False
        text = str(path)
        ignored = False
        for base, spec in self.specs:
            prefix = str(base).rstrip(os.sep) + os.sep
            if not text.startswith(prefix):
                continue
            relative = text[len(prefix):].replace(os.sep, "/")
            if is_dir:
                relative += "/"
            # Later (deeper) files win, like git: check_file tells include/exclude/no-match.
            result = spec.check_file(relative) if hasattr(spec, "check_file") else None
            if result is not None and getattr(result, "include", None) is not None:
                ignored = bool(result.include)
            elif spec.match_file(relative):
                ignored = True
        return ignored


def _load_gitignore(directory: Path) -> pathspec.PathSpec | None:
    candidate = directory / ".gitignore"
    try:
        text = candidate.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    except Exception:  # a malformed .gitignore line: ignore the file rather than fail the scan
        return None


def _ancestor_rules(root: Path) -> _IgnoreRules:
    """.gitignore files from the repository root (the folder with .git) down to `root`."""
    chain: list[Path] = []
    current = root
    while True:
        chain.append(current)
        if (current / ".git").exists() or current.parent == current:
            break
        current = current.parent
    if not (chain[-1] / ".git").exists():
        chain = [root]  # not in a git repository: only the PATH's own .gitignore files count
    rules = _IgnoreRules()
    for directory in reversed(chain[1:]):
        rules = rules.with_dir(directory)
    if any(rules.ignores(ancestor, True) for ancestor in chain[:-1]):
        # The PATH itself is git-ignored (e.g. a virtualenv or the stdlib inside a repository):
        # the user asked for it explicitly, so only .gitignore files from the PATH down apply.
        rules = _IgnoreRules()
    return rules.with_dir(root)


def _excluded(path: str, root: Path, exclude: pathspec.PathSpec | None) -> bool:
    if exclude is None:
        return False
    prefix = str(root).rstrip(os.sep) + os.sep
    relative = (path[len(prefix):] if path.startswith(prefix) else path).replace(os.sep, "/")
    return exclude.match_file(relative) or exclude.match_file(os.path.basename(path))


def _walk(root: Path, real_root: str, exclude: pathspec.PathSpec | None) -> Iterator[Path]:
    seen_dirs: set[str] = set()
    stack: list[tuple[Path, _IgnoreRules]] = [(root, _ancestor_rules(root))]
    while stack:
        directory, rules = stack.pop()
        real = os.path.realpath(directory)
        if real in seen_dirs:
            continue  # a symlink loop or a second link to the same folder
        seen_dirs.add(real)
        rules = rules.with_dir(directory) if directory != root else rules
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        subdirs: list[tuple[Path, _IgnoreRules]] = []
        for entry in entries:
            path = entry.path  # strings while walking: Path objects cost more than the walk
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not (target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)):
                    continue  # never follow a link out of the PATH
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if _is_skipped_dir(entry) or rules.ignores(path, True) or _excluded(path, root, exclude):
                    continue
                subdirs.append((Path(path), rules))
            else:
                try:
                    regular = entry.is_file()
                except OSError:
                    regular = False
                if not regular:
                    continue  # FIFOs, sockets, devices: reading them could block
                if rules.ignores(path, False) or _excluded(path, root, exclude):
                    continue
                yield Path(path)
        stack.extend(reversed(subdirs))


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> list[SourceFile]:
    """Every file to scan under `paths`, in a stable order, without duplicates.

    Raises UserError for a PATH that does not exist.
    """
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(list(exclude)) if exclude else None
    found: list[SourceFile] = []
    seen: set[Path] = set()
    for given in paths:
        path = absolute(given)
        if not path.exists():
            raise UserError(f"{given}: no such file or directory")
        if path.is_file():
            kind = classify_named(path)
            if kind is not None and path not in seen:
                seen.add(path)
                found.append(SourceFile(path, display_path(path), kind, path.parent))
            continue
        if not path.is_dir():
            # Reading a FIFO or a device would block or never end; a scan reads only files.
            raise UserError(f"{given}: not a regular file or folder (a pipe, socket or device is never read)")
        real_root = os.path.realpath(path)
        for file_path in _walk(path, real_root, exclude_spec):
            kind = classify(file_path)
            if kind is None or file_path in seen:
                continue
            seen.add(file_path)
            found.append(SourceFile(file_path, display_path(file_path), kind, path))
    return found
