"""Read and parse one file, turning every way it can fail into a one-line message.

Files larger than MAX_FILE_BYTES (5 MB) are not parsed: generated or vendored code of that
size is not where a service keeps its sessions, and parsing it would stall the scan.
"""

from __future__ import annotations

import ast
import io
import os
import stat
import tokenize
import warnings
from pathlib import Path

MAX_FILE_BYTES = 5 * 1024 * 1024


class ParseProblem(Exception):
    """A file that cannot be scanned; str(problem) is the one-line message for `errors`."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or ParseProblem when it is unreadable, not a regular file or too large.

    Opened without blocking and checked on the open handle: a file swapped for a FIFO after
    discovery is refused, not waited on.
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise ParseProblem("cannot read file: permission denied") from None
    except OSError as error:
        raise ParseProblem(f"cannot read file: {error.strerror or error}") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise ParseProblem("not a regular file")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise ParseProblem(f"file is {size / 1048576:.1f} MB, over the {MAX_FILE_BYTES // 1048576} MB limit; skipped")
        with os.fdopen(handle, "rb", closefd=False) as reader:
            data = reader.read(MAX_FILE_BYTES + 1)
    except ParseProblem:
        raise
    except PermissionError:
        raise ParseProblem("cannot read file: permission denied") from None
    except OSError as error:
        raise ParseProblem(f"cannot read file: {error.strerror or error}") from None
    finally:
        os.close(handle)
    if len(data) > MAX_FILE_BYTES:
        raise ParseProblem(f"file is over the {MAX_FILE_BYTES // 1048576} MB limit; skipped")
    return data


def decode_python(data: bytes) -> str:
    """Source text decoded per PEP 263 (coding cookie or UTF-8), or ParseProblem."""
    if b"\x00" in data:
        raise ParseProblem("binary file (contains NUL bytes), not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        reason = getattr(error, "msg", None) or str(error)
        if "invalid or missing encoding declaration" in reason:
            raise ParseProblem("not valid UTF-8 text and no encoding declared (PEP 263)") from None
        raise ParseProblem(f"cannot decode: {reason}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeError, LookupError) as error:
        # UnicodeError too: some codecs (punycode, "undefined") raise it rather than a decode
        # error, with messages that span lines.
        reason = error.reason if isinstance(error, UnicodeDecodeError) else str(error)
        reason = " ".join(str(reason).split()) or type(error).__name__
        raise ParseProblem(f"not valid {encoding} text ({reason}); declare the encoding (PEP 263) or fix the file") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def decode_text(data: bytes) -> str:
    """Deployment files: UTF-8 text (a BOM is dropped), or ParseProblem."""
    if b"\x00" in data:
        raise ParseProblem("binary file (contains NUL bytes), not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParseProblem(f"not valid UTF-8 text ({error.reason} at byte {error.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


_PY2_HINTS = ("print ", "print\t", "except ", "exec ", "raise ")


def _syntax_message(error: SyntaxError, text: str) -> str:
    line = error.lineno or 0
    message = f"syntax error: {error.msg} (line {line})" if line else f"syntax error: {error.msg}"
    source_line = ""
    if line and 0 < line <= text.count("\n") + 1:
        source_line = text.splitlines()[line - 1].strip() if text.splitlines() else ""
    if ((source_line.startswith("print ") and not source_line.startswith("print (")) or
            ("except " in source_line and ", " in source_line and " as " not in source_line) or
            source_line.startswith("exec ") or "ur\"" in source_line or "<>" in source_line):
        message += "; this looks like Python 2, which is not supported"
    return message


def parse_python(text: str, filename: str) -> ast.Module:
    """One `ast.parse`; SyntaxError, RecursionError and friends become ParseProblem."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not our business
            return ast.parse(text, filename=filename)
    except SyntaxError as error:
        raise ParseProblem(_syntax_message(error, text)) from None
    except (RecursionError, MemoryError):
        raise ParseProblem("expression nesting too deep to parse") from None
    except ValueError as error:  # e.g. source containing NUL bytes after decoding
        raise ParseProblem(f"cannot parse: {error}") from None
