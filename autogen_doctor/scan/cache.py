"""Content-hash cache of per-file facts (and parse errors).

Layout under the cache folder (platformdirs' user cache dir, or the one given):

    v<format>-<tool version>-<code hash>/entries/<ab>/<hash>.pickle   one file's outcome
    v<format>-<tool version>-<code hash>/index.pickle                  path -> (size, mtime, key)

The key of an entry is a hash of the file's bytes plus what the facts depend on besides the
bytes (its kind, module name, package flag). The folder name carries the tool version and a
hash of the scan code, so an upgrade or an edited rule starts from a clean cache. The index is
a shortcut that lets a warm scan skip reading unchanged files; it trusts a file's size and
mtime only when the mtime is comfortably older than the scan that recorded it (as git does
for "racily clean" files), so a file rewritten within the same clock tick is re-read.
Cross-module rules stay correct because resolution and rules always re-run over the facts.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from autogen_doctor import __version__

FORMAT = 1
_RACY_NS = 2_000_000_000


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("autogen-doctor"))


@lru_cache(maxsize=1)
def code_hash() -> str:
    """Hash of the scan package's own source: facts, parsers, deployment parsers, rules."""
    digest = hashlib.blake2b(digest_size=10)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def entry_key(data: bytes, kind: str, module_name: str, is_package: bool) -> str:
    digest = hashlib.blake2b(data, digest_size=20)
    digest.update(f"\0{kind}\0{module_name}\0{int(is_package)}".encode())
    return digest.hexdigest()


class FactsCache:
    """Reads and writes cache entries; every failure degrades to a cache miss."""

    def __init__(self, directory: Path | None = None) -> None:
        base = Path(directory) if directory is not None else default_cache_dir()
        self.root = base / f"v{FORMAT}-{__version__}-{code_hash()}"
        self._index: dict[str, tuple] | None = None

    def _entry_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / f"{key}.pickle"

    def get(self, key: str) -> Any | None:
        try:
            with open(self._entry_path(key), "rb") as handle:
                return pickle.load(handle)
        except Exception:  # missing, truncated or from an incompatible build: recompute
            return None

    def put(self, key: str, value: Any) -> None:
        self.put_bytes(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store an already pickled entry (atomically: write a temporary file, then rename)."""
        path = self._entry_path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only or full disk only makes the next scan slower

    # ---------- stat index ----------
    def index(self) -> dict[str, tuple]:
        if self._index is None:
            try:
                with open(self.root / "index.pickle", "rb") as handle:
                    self._index = pickle.load(handle)
                if not isinstance(self._index, dict):
                    self._index = {}
            except Exception:
                self._index = {}
        return self._index

    def lookup(self, path: str, size: int, mtime_ns: int, identity: tuple) -> str | None:
        """The entry key recorded for an unchanged file, or None."""
        found = self.index().get(path)
        if found is None:
            return None
        recorded_size, recorded_mtime, recorded_identity, key = found
        if recorded_size == size and recorded_mtime == mtime_ns and recorded_identity == identity:
            return key
        return None

    def record(self, updates: dict[str, tuple], scan_started_ns: int) -> None:
        """Merge `path -> (size, mtime_ns, identity, key)` into the index and save it."""
        index = dict(self.index())
        changed = False
        for path, entry in updates.items():
            if entry[1] < scan_started_ns - _RACY_NS and index.get(path) != entry:
                index[path] = entry
                changed = True
        if not changed:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-index-")
            with os.fdopen(handle, "wb") as out:
                pickle.dump(index, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.root / "index.pickle")
            self._index = index
        except OSError:
            pass
