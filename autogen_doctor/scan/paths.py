"""Display paths, written the way ruff writes them."""

from __future__ import annotations

import os
from pathlib import Path


def absolute(path: Path | str) -> Path:
    """An absolute, normalised path that keeps symlink names (unlike `resolve`)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def display_path(path: Path | str, cwd: Path | None = None) -> str:
    """Relative to the working directory when the file is under it, else absolute."""
    full = absolute(path)
    base = absolute(cwd) if cwd is not None else absolute(os.getcwd())
    try:
        return full.relative_to(base).as_posix()
    except ValueError:
        return full.as_posix()


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (resolved) is `root` or below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
