"""Content-Encoding decoded by the probe itself, with the size cap enforced inside every layer.

httpx decodes a whole received chunk at once, and every layer of `Content-Encoding: gzip, gzip`
in turn, before the caller can count a byte: a 2 kB reply of stacked gzip expands to gigabytes
in memory inside the event loop. Here each layer is a zlib decompressor asked for at most
`limit` bytes more at a time, so no layer (inner or outer) ever holds more than the cap.
"""

from __future__ import annotations

import zlib

SUPPORTED = ("gzip", "x-gzip", "deflate", "identity")
ACCEPT_ENCODING = "gzip, deflate"  # what the probe announces: only what it can decode safely


class TooLarge(Exception):
    """A layer of the reply decoded to more than the cap."""


class UnsupportedEncoding(Exception):
    """The reply uses a Content-Encoding the probe does not decode."""


class _Layer:
    def __init__(self, name: str) -> None:
        self.name = name
        if name in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        else:  # deflate: zlib-wrapped as the RFC says; raw deflate as some servers send
            self._inflater = zlib.decompressobj()
        self._first = name == "deflate"

    def feed(self, data: bytes, room: int) -> bytes:
        """Decompress `data`, failing once the output would pass `room` bytes."""
        if self._first and data:
            self._first = False
            if data[0] & 0x0F != 8:  # not a zlib header: raw deflate
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        out = self._inflater.decompress(data, room + 1)
        if len(out) > room or self._inflater.unconsumed_tail:
            raise TooLarge
        return out

    def flush(self, room: int) -> bytes:
        out = self._inflater.flush(room + 1)
        if len(out) > room:
            raise TooLarge
        return out


class BoundedDecoder:
    """Decodes a body chunk by chunk through every Content-Encoding layer, at most `limit` bytes per layer."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [part.strip().lower() for part in content_encoding.split(",") if part.strip()]
        unknown = [name for name in names if name not in SUPPORTED]
        if unknown:
            raise UnsupportedEncoding(unknown[0])
        # Encodings are listed in the order they were applied: undo them from the last.
        self._layers = [_Layer(name) for name in reversed(names) if name != "identity"]
        self._produced = [0] * len(self._layers)
        self.limit = limit
        self.size = 0

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes of `chunk`; raises TooLarge past the cap in any layer."""
        data = chunk
        for index, layer in enumerate(self._layers):
            data = layer.feed(data, self.limit - self._produced[index])
            self._produced[index] += len(data)
        return self._count(data)

    def finish(self) -> bytes:
        """What the layers still hold once the body has ended."""
        data = b""
        for index, layer in enumerate(self._layers):
            room = self.limit - self._produced[index]
            out = layer.feed(data, room) if data else b""
            out += layer.flush(room - len(out))
            self._produced[index] += len(out)
            data = out
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge
        return data
