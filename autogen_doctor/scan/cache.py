"""Content-hash cache of per-file facts (and parse errors).

Layout under the cache folder (platformdirs' user cache dir, or the one given):

    v<format>-<tool version>-<code hash>/pack-<roots hash>.pickle

One pack per set of scanned roots holds two maps: `entries` (content key -> pickled outcome)
and `index` (path -> size, mtime, identity, key). One file read makes a warm scan fast, and one
atomic write per scan is far cheaper than a file per source file. The key of an entry is a hash
of the file's bytes plus what its facts depend on besides the bytes (kind, module name, package
flag). The folder name carries the tool version and a hash of the scan code, so an upgrade or an
edited rule starts from a clean cache.

The index lets a warm scan skip reading unchanged files; it trusts a file's size and mtime only
when the mtime is comfortably older than the scan that recorded it (as git does for "racily
clean" files), so a file rewritten within the same clock tick is re-read and re-hashed.
Cross-module rules stay correct because resolution and rules always re-run over the facts.

Beside the pack, `result-<roots hash>.pickle` remembers the last scan's whole result under a
signature of the tree (every file's path, kind, size and mtime, the scanned PATHs and the working
directory). Findings are a pure function of those files and the scan code, so when nothing at all
changed the result is reused without loading any facts; any change falls back to the pack.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from autogen_doctor import __version__

FORMAT = 2
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


def tree_signature(files: Iterable[tuple[str, str, str]], context: Iterable[str]) -> str | None:
    """A hash of every (path, display, kind) file's size and mtime plus `context` strings, or
    None when a file changed too recently for its mtime to be trusted (or vanished)."""
    digest = hashlib.blake2b(digest_size=20)
    for item in context:
        digest.update(item.encode("utf-8", "surrogateescape") + b"\0")
    trusted_before = _now_ns() - _RACY_NS
    for path, display, kind in files:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if stat.st_mtime_ns >= trusted_before:
            return None
        digest.update(f"{path}\0{display}\0{kind}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                      .encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _now_ns() -> int:
    import time

    return time.time_ns()


def entry_key(data: bytes, kind: str, module_name: str, is_package: bool) -> str:
    digest = hashlib.blake2b(data, digest_size=20)
    digest.update(f"\0{kind}\0{module_name}\0{int(is_package)}".encode())
    return digest.hexdigest()


class FactsCache:
    """Reads and writes the pack; every failure degrades to a cache miss."""

    def __init__(self, directory: Path | None = None, roots: Iterable[Path | str] = ()) -> None:
        base = Path(directory) if directory is not None else default_cache_dir()
        self.root = base / f"v{FORMAT}-{__version__}-{code_hash()}"
        roots_id = hashlib.blake2b("\0".join(sorted(str(root) for root in roots)).encode(),
                                   digest_size=8).hexdigest()
        self.pack_path = self.root / f"pack-{roots_id}.pickle"
        self._entries: dict[str, bytes] | None = None
        self._index: dict[str, tuple] | None = None
        self._new_entries: dict[str, bytes] = {}

    def _load(self) -> None:
        if self._entries is not None:
            return
        try:
            with open(self.pack_path, "rb") as handle:
                pack = pickle.load(handle)
            self._entries = pack["entries"]
            self._index = pack["index"]
            if not isinstance(self._entries, dict) or not isinstance(self._index, dict):
                raise ValueError("bad pack")
        except Exception:  # missing, truncated or from an incompatible build: start empty
            self._entries, self._index = {}, {}

    def get(self, key: str) -> Any | None:
        self._load()
        data = self._new_entries.get(key) or self._entries.get(key)  # type: ignore[union-attr]
        if data is None:
            return None
        try:
            return pickle.loads(data)
        except Exception:
            return None

    def put(self, key: str, value: Any) -> None:
        self.put_bytes(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Remember an already pickled entry; written by `save`."""
        self._new_entries[key] = data

    def lookup(self, path: str, size: int, mtime_ns: int, identity: tuple) -> str | None:
        """The entry key recorded for an unchanged file, or None."""
        self._load()
        found = self._index.get(path)  # type: ignore[union-attr]
        if found is None:
            return None
        recorded_size, recorded_mtime, recorded_identity, key = found
        if recorded_size == size and recorded_mtime == mtime_ns and recorded_identity == identity:
            return key
        return None

    @property
    def result_path(self) -> Path:
        return self.pack_path.with_name("result-" + self.pack_path.name[len("pack-"):])

    def load_result(self, signature: str) -> Any | None:
        """The result remembered for exactly this tree, or None."""
        try:
            with open(self.result_path, "rb") as handle:
                remembered = pickle.load(handle)
            if remembered.get("signature") == signature:
                return remembered["result"]
        except Exception:  # missing, truncated or from an incompatible build
            pass
        return None

    def save_result(self, signature: str, result: Any) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-result-")
            with os.fdopen(handle, "wb") as out:
                pickle.dump({"signature": signature, "result": result}, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.result_path)
        except OSError:
            pass

    def save(self, entries_in_use: dict[str, tuple], scan_started_ns: int) -> None:
        """Write the pack: the entries this scan used, and the index of files not racily new.

        `entries_in_use` maps path -> (size, mtime_ns, identity, key) for every file analysed.
        """
        self._load()
        used_keys = {entry[3] for entry in entries_in_use.values()}
        entries = {key: data for key, data in self._entries.items() if key in used_keys}  # type: ignore[union-attr]
        entries.update((key, data) for key, data in self._new_entries.items() if key in used_keys)
        index = {path: entry for path, entry in entries_in_use.items() if entry[1] < scan_started_ns - _RACY_NS}
        if entries == self._entries and index == self._index:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-pack-")
            with os.fdopen(handle, "wb") as out:
                pickle.dump({"entries": entries, "index": index}, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.pack_path)
            self._entries, self._index, self._new_entries = entries, index, {}
        except OSError:
            pass  # a read-only or full disk only makes the next scan slower
