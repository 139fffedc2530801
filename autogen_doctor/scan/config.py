"""Project configuration: `[tool.autogen-doctor]` in the nearest pyproject.toml.

Discovery walks up from the current directory to the filesystem root and uses the first
`pyproject.toml` that has a `[tool.autogen-doctor]` table (ruff does the same with
`[tool.ruff]`), so a nested package's pyproject without our table does not hide the
repository's settings. `--config FILE` names the file instead; `--no-config` skips it.

Keys are the scan flags in kebab-case. Paths in the config (`baseline`, `output`) are
relative to the directory holding the config file (the project root), and so are
`per-file-ignores` patterns that contain a `/`. An unknown key or a bad value is one
clear error line (exit 2), never a silent default.

The config belongs to the scanned repository, so it is untrusted (docs/security.md): its
paths must stay inside the project root (after symlinks are followed), and `cache-dir` is
refused there, since the cache folder decides what the scanner loads. The command line
(`--output`, `--baseline`, `--cache-dir`) may name any place.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.findings import Severity
from autogen_doctor.files import read_regular_file

TABLE = "autogen-doctor"
FORMATS = ("text", "json", "sarif", "github")


@dataclass(frozen=True)
class ProjectConfig:
    """Validated settings from one config file; `values` uses the option names (snake_case)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path is not None else None


def _where(path: Path, key: str) -> str:
    return f"{path}: [tool.{TABLE}] {key}"


def _string(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{_where(path, key)} must be a non-empty string, got {value!r}")
    return value.strip()


def _choice(choices: tuple[str, ...]) -> Callable[[Path, str, Any], str]:
    def check(path: Path, key: str, value: Any) -> str:
        text = _string(path, key, value).lower()
        if text not in choices:
            raise UserError(f"{_where(path, key)} must be one of {', '.join(choices)}, got {value!r}")
        return text

    return check


def _severity(path: Path, key: str, value: Any) -> Severity:
    try:
        return Severity.parse(_string(path, key, value))
    except ValueError:
        raise UserError(f"{_where(path, key)} must be info, warning or error, got {value!r}") from None


def _string_list(path: Path, key: str, value: Any) -> list[str]:
    """A list of strings; a single comma-separated string is accepted too."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserError(f"{_where(path, key)} must be a list of strings, got {value!r}")
    return [item for item in value if item.strip()]


def _boolean(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{_where(path, key)} must be true or false, got {value!r}")
    return value


def _positive_int(path: Path, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{_where(path, key)} must be a whole number of at least 1, got {value!r}")
    return value


_VCS_DIRS = frozenset({".git", ".hg", ".svn"})


def _project_path(path: Path, key: str, value: Any) -> Path:
    """A path relative to the config's folder that stays inside it once symlinks are followed."""
    root = path.parent.resolve()
    text = _string(path, key, value)
    try:
        target = (root / text).resolve()
        target.relative_to(root)
    except (ValueError, OSError, RuntimeError):
        raise UserError(f"{_where(path, key)} must name a file inside the project ({root}), got {value!r}; "
                        f"a repository's config may not write or read outside itself "
                        f"(use --{key} on the command line for that)") from None
    if _VCS_DIRS.intersection(target.relative_to(root).parts):
        # .git/hooks and .git/config are not the repository's to write: a hook overwritten
        # with report text would run in the next git command.
        raise UserError(f"{_where(path, key)} may not point into version-control metadata, got {value!r}")
    return target


def _refused(reason: str) -> Callable[[Path, str, Any], Any]:
    def refuse(path: Path, key: str, value: Any) -> Any:
        raise UserError(f"{_where(path, key)} is not accepted from a project's config: {reason}")

    return refuse


def _per_file_ignores(path: Path, key: str, value: Any) -> list[tuple[str, list[str]]]:
    """`{"tests/**" = ["AD101"], "legacy.py" = "AD1"}` -> [(pattern, codes)]."""
    if not isinstance(value, dict):
        raise UserError(f'{_where(path, key)} must be a table such as {{"tests/**" = ["AD101"]}}, got {value!r}')
    entries = []
    for pattern, codes in value.items():
        codes = _string_list(path, f"{key}.{pattern!r}", codes)
        entries.append((pattern, codes))
    return entries


# config key -> (option name, validator)
_KEYS: dict[str, tuple[str, Callable[[Path, str, Any], Any]]] = {
    "format": ("format", _choice(FORMATS)),
    "output": ("output", _project_path),
    "fail-on": ("fail_on", _severity),
    "select": ("select", _string_list),
    "ignore": ("ignore", _string_list),
    "exclude": ("exclude", _string_list),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "baseline": ("baseline", _project_path),
    "jobs": ("jobs", _positive_int),
    "cache": ("cache", _boolean),
    # The cache folder decides what the scanner loads: only the command line may choose it.
    "cache-dir": ("cache_dir", _refused("the repository being scanned must not choose where the "
                                        "scanner's cache lives; remove the key and give --cache-dir "
                                        "on the command line instead")),
    "report-unused-suppressions": ("report_unused_suppressions", _boolean),
}

KNOWN_KEYS: tuple[str, ...] = tuple(_KEYS)


MAX_CONFIG_BYTES = 4 * 1024 * 1024


def _read_toml(path: Path) -> dict[str, Any]:
    data = read_regular_file(path, "config file", MAX_CONFIG_BYTES)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:  # TOML is UTF-8 by definition
        raise UserError(f"{path}: invalid TOML: not UTF-8 text (byte {error.start})") from None
    except (RecursionError, MemoryError):
        raise UserError(f"{path}: invalid TOML: nested too deeply to read") from None


def _our_table(path: Path, document: dict[str, Any]) -> dict[str, Any] | None:
    tool = document.get("tool")
    if not isinstance(tool, dict) or TABLE not in tool:
        return None
    table = tool[TABLE]
    if not isinstance(table, dict):
        raise UserError(f"{path}: [tool.{TABLE}] must be a table")
    return table


def parse_table(path: Path, table: dict[str, Any]) -> ProjectConfig:
    """Validate one `[tool.autogen-doctor]` table read from `path`."""
    values: dict[str, Any] = {}
    for key, raw in table.items():
        known = _KEYS.get(key)
        if known is None:
            close = difflib.get_close_matches(key.replace("_", "-"), KNOWN_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(KNOWN_KEYS)}"
            raise UserError(f"{path}: [tool.{TABLE}] unknown key {key!r}{hint}")
        option, validate = known
        values[option] = validate(path, key, raw)
    return ProjectConfig(path=path, values=values)


def load_config_file(path: Path) -> ProjectConfig:
    """Read an explicit config file: a pyproject.toml (our table inside `[tool]`) or any other
    TOML file whose top level holds the keys directly (like ruff's `ruff.toml`)."""
    path = path.resolve()
    document = _read_toml(path)
    if path.name == "pyproject.toml":
        table = _our_table(path, document)
        return parse_table(path, table) if table is not None else ProjectConfig(path=path)
    return parse_table(path, document)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a `[tool.autogen-doctor]` table."""
    for directory in (start.resolve(), *start.resolve().parents):
        candidate = directory / "pyproject.toml"
        # Only a regular file: a FIFO or device named pyproject.toml is not a config.
        if candidate.is_file() and _our_table(candidate, _read_toml(candidate)) is not None:
            return candidate
    return None


def discover_config(start: Path, explicit: Path | None = None, enabled: bool = True) -> ProjectConfig:
    """The settings that apply to a scan run from `start` (the current directory)."""
    if not enabled:
        return ProjectConfig()
    if explicit is not None:
        return load_config_file(explicit)
    found = find_pyproject(start)
    return load_config_file(found) if found is not None else ProjectConfig()
