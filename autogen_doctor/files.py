"""Reading a file the user named without trusting what is at that path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from autogen_doctor.exit_codes import UserError


def read_regular_file(path: Path, what: str, limit: int) -> bytes:
    """The bytes of a file the user named (a config, a baseline, a recording), or UserError in one line.

    Only a regular file is read, and at most `limit` bytes: a FIFO, a socket or a device such
    as /dev/zero would block or never end. The file is opened without blocking and checked on
    the open handle, so it cannot be swapped for a FIFO between the check and the read.
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist (no such file)") from None
    except OSError as error:
        raise UserError(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        info = os.fstat(handle)
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{what} {path} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{what} {path} is not a regular file (a pipe, socket or device is never read)")
        if info.st_size > limit:
            raise UserError(f"{what} {path} is {info.st_size / 1048576:.1f} MB, over the "
                            f"{limit // 1048576} MB limit")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(handle, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise UserError(f"{what} {path} is over the {limit // 1048576} MB limit")
        return b"".join(chunks)
    except OSError as error:
        raise UserError(f"cannot read {what} {path}: {error.strerror or error}") from None
    finally:
        os.close(handle)
