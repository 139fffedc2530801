"""Find the files to scan under each PATH.

Python files (`.py`) and deployment files (as recognised by `autogen_doctor.scan.deploy`).
`.gitignore` files are honoured (the ones above a PATH up to the repository root, and nested
ones), virtualenvs, `site-packages`, `node_modules`, caches and build outputs are skipped,
and a symlink is followed only when it points inside the PATH it was found under.
A file named explicitly on the command line is always scanned.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.deploy.names import is_deploy_file
from autogen_doctor.scan.paths import absolute, display_path

if TYPE_CHECKING:  # imported when there is a .gitignore or an --exclude to match
    import pathspec

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

    def __init__(self, specs: tuple[tuple[Path, pathspec.PathSpec, re.Pattern | None], ...] = ()) -> None:
        self.specs = specs

    def with_dir(self, directory: Path) -> "_IgnoreRules":
        loaded = _load_gitignore(directory)
        return _IgnoreRules(self.specs + ((directory, *loaded),)) if loaded is not None else self

    def ignores(self, path: Path | str, is_dir: bool) -> bool:
        if not self.specs:
            return False
        text = str(path)
        ignored = False
        for base, spec, any_pattern in self.specs:
            prefix = str(base).rstrip(os.sep) + os.sep
            if not text.startswith(prefix):
                continue
            relative = text[len(prefix):].replace(os.sep, "/")
            if is_dir:
                relative += "/"
            if any_pattern is not None and any_pattern.match(relative) is None:
                continue  # one search says no pattern of this file matches: it has no say
            # Later (deeper) files win, like git: check_file tells include/exclude/no-match.
            result = spec.check_file(relative) if hasattr(spec, "check_file") else None
            if result is not None and getattr(result, "include", None) is not None:
                ignored = bool(result.include)
            elif result is None and spec.match_file(relative):
                ignored = True
        return ignored


def _any_pattern(spec: pathspec.PathSpec) -> re.Pattern | None:
    """One regex that matches where any pattern of `spec` matches (which one wins is left to
    pathspec), so most paths cost one search per .gitignore instead of one per line; None when
    the patterns cannot be combined (then every path goes to pathspec)."""
    parts: list[str] = []
    flags: set[int] = set()
    for pattern in getattr(spec, "patterns", ()):
        regex = getattr(pattern, "regex", None)
        if regex is None:
            continue  # blank lines and comments
        if not isinstance(regex, re.Pattern):
            return None
        flags.add(regex.flags)
        # pathspec marks directory matches with a named group; names cannot repeat in one regex
        parts.append("(?:" + regex.pattern.replace("(?P<ps_d>", "(?:") + ")")
    if len(flags) > 1 or "(?P<" in "".join(parts):
        return None
    if not parts:
        return re.compile(r"(?!)")  # matches nothing
    try:
        return re.compile("|".join(parts), flags.pop() if flags else 0)
    except re.error:
        return None


def _load_gitignore(directory: Path) -> tuple[pathspec.PathSpec, re.Pattern | None] | None:
    candidate = directory / ".gitignore"
    try:
        text = candidate.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    import pathspec

    try:
        spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    except Exception:  # a malformed .gitignore line: ignore the file rather than fail the scan
        return None
    return spec, _any_pattern(spec)


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


def _realpath(path: str) -> str | None:
    """`os.path.realpath`, or None when it cannot be worked out (e.g. /proc/1/cwd as non-owner)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return None


def _inside(target: str, real_root: str) -> bool:
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def _walk(root: Path, real_root: str, exclude: pathspec.PathSpec | None,
          problems: list[tuple[str, str]]) -> Iterator[tuple[str, bool, str]]:
    """(path, reached through a symlink, kind) for every file under `root` that scan reads.

    A folder that cannot be listed is added to `problems` (path, message). Folders that are
    git-ignored or excluded are pruned here, so nothing below them is ever looked at; a file
    is matched against the ignore rules only when scan would read it (`classify`).
    """
    seen_dirs: set[str] = set()
    root_text = str(root)
    stack: list[tuple[str, _IgnoreRules, bool]] = [(root_text, _ancestor_rules(root), False)]
    # Folders reached through a symlink wait until every real folder was walked, so a file
    # is found under its real path first and the link to it is the duplicate.
    linked: list[tuple[str, _IgnoreRules, bool]] = []
    while stack or linked:
        directory, rules, via_link = stack.pop() if stack else linked.pop(0)
        if via_link:
            key = _realpath(directory) or directory
        else:  # no link on the way: its real path is the real root plus the same tail
            key = real_root + directory[len(root_text):]
        if key in seen_dirs:
            continue  # a symlink loop or a second link to the same folder
        seen_dirs.add(key)
        rules = rules.with_dir(Path(directory)) if directory != root_text else rules
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except PermissionError:
            problems.append((directory, "cannot read folder: permission denied; its files were not scanned"))
            continue
        except OSError as error:
            problems.append((directory, f"cannot read folder: {error.strerror or error}; its files were not scanned"))
            continue
        subdirs: list[tuple[str, _IgnoreRules, bool]] = []
        for entry in entries:
            path = entry.path  # strings while walking: Path objects cost more than the walk
            try:
                is_link = entry.is_symlink()
                if is_link:
                    target = _realpath(path)
                    if target is None or not _inside(target, real_root):
                        continue  # never follow a link out of the PATH (or one we cannot resolve)
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if _is_skipped_dir(entry) or rules.ignores(path, True) or _excluded(path, root, exclude):
                    continue
                if via_link or is_link:
                    linked.append((path, rules, True))
                else:
                    subdirs.append((path, rules, False))
            else:
                try:
                    regular = entry.is_file()
                except OSError:
                    regular = False
                if not regular:
                    continue  # FIFOs, sockets, devices: reading them could block
                kind = classify(Path(path))
                if kind is None:
                    continue  # not something scan reads: no need to match it against .gitignore
                if rules.ignores(path, False) or _excluded(path, root, exclude):
                    continue
                yield path, via_link or is_link, kind
        stack.extend(reversed(subdirs))


def discover(paths: Sequence[Path], exclude: Sequence[str] = (),
             problems: list[tuple[str, str]] | None = None) -> list[SourceFile]:
    """Every file to scan under `paths`, in a stable order, without duplicates.

    A file reached twice (through a symlink inside the PATH, or under two PATHs) is listed
    once, under its real path when that was found too. Folders that cannot be listed are
    appended to `problems` as (display path, message) when a list is given.
    Raises UserError for a PATH that does not exist.
    """
    exclude_spec = None
    if exclude:
        import pathspec

        exclude_spec = pathspec.GitIgnoreSpec.from_lines(list(exclude))
    problems = problems if problems is not None else []
    found: list[SourceFile] = []
    # real path -> position in `found`, and whether that entry is the real path itself
    by_real: dict[str, tuple[int, bool]] = {}

    def add(path: Path, kind: str, root: Path, real: str, is_real: bool) -> None:
        known = by_real.get(real)
        if known is not None:
            position, known_is_real = known
            if is_real and not known_is_real:  # the real file wins over a link to it
                found[position] = SourceFile(path, display_path(path), kind, root)
                by_real[real] = (position, True)
            return
        by_real[real] = (len(found), is_real)
        found.append(SourceFile(path, display_path(path), kind, root))

    for given in paths:
        path = absolute(given)
        if not path.exists():
            raise UserError(f"{given}: no such file or directory")
        if path.is_file():
            kind = classify_named(path)
            if kind is not None:
                real = _realpath(str(path)) or str(path)
                add(path, kind, path.parent, real, real == str(path))
            continue
        if not path.is_dir():
            # Reading a FIFO or a device would block or never end; a scan reads only files.
            raise UserError(f"{given}: not a regular file or folder (a pipe, socket or device is never read)")
        real_root = _realpath(str(path)) or str(path)
        root_text = str(path)
        for file_path, via_link, kind in _walk(path, real_root, exclude_spec, problems):
            if via_link:
                real = _realpath(file_path) or file_path
            else:  # no link on the way: the real path is the real root plus the same tail
                real = real_root + file_path[len(root_text):]
            add(Path(file_path), kind, path, real, not via_link)
    problems[:] = [(display_path(where), message) for where, message in problems]
    return found
