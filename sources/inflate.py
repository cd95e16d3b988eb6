"""Undoing an answer's Content-Encoding a bounded piece at a time.

httpx's own decoders inflate each network chunk whole: 64 KB of gzip can become 64 MB in
one call, so a byte cap counted on their output bites only after the bomb has gone off.
Here every zlib call yields at most `step` bytes, so whoever counts the pieces can stop at
its cap holding little more than the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

STEP = 64 * 1024
# gzip: the gzip header and trailer; deflate: zlib-wrapped as the RFC says (raw is tried
# too, as many servers send it).
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
# Compressions this module cannot undo (and the fetcher does not ask for).
UNREADABLE = frozenset({"br", "zstd", "compress", "x-compress"})


class EncodingError(ValueError):
    """The body is not what its Content-Encoding says, or is encoded in a way not read here."""


def encodings(header: str) -> list[str]:
    """The Content-Encoding values in the order they were applied; identity and names that
    are no compression at all are left out (as httpx does)."""
    names = [v.strip().lower() for v in header.split(",")]
    unreadable = [n for n in names if n in UNREADABLE]
    if unreadable:
        raise EncodingError(f"the answer is {unreadable[0]}-encoded, which is not read here")
    return [n for n in names if n in _WBITS]


def decoded(raw: Iterable[bytes], header: str, step: int = STEP) -> Iterator[bytes]:
    """The decoded body of `raw` (the body as sent) in pieces of at most `step` bytes."""
    pieces: Iterable[bytes] = raw
    for name in reversed(encodings(header)):  # the last applied is undone first
        pieces = _inflate(pieces, name, step)
    return iter(pieces)


def _inflate(chunks: Iterable[bytes], name: str, step: int) -> Iterator[bytes]:
    inflater = zlib.decompressobj(_WBITS[name])
    first = True
    for chunk in chunks:
        data = chunk
        while not inflater.eof:
            try:
                out = inflater.decompress(data, step)
            except zlib.error as err:
                if first and name == "deflate":  # no zlib header: raw deflate
                    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    first = False
                    continue
                raise EncodingError(f"the answer's {name} encoding is broken: {err}") from None
            first = False
            if out:
                yield out
            data = inflater.unconsumed_tail
            # A full piece may mean zlib holds more output back even with no input left.
            if not data and len(out) < step:
                break
    # Whatever follows the end of the stream (a second gzip member, junk) is ignored.
    if not inflater.eof:
        try:
            rest = inflater.flush()
        except zlib.error as err:
            raise EncodingError(f"the answer's {name} encoding is broken: {err}") from None
        if rest:
            yield rest
