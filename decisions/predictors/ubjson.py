"""A strict reader of the UBJSON that XGBoost saves models in (`Booster.save_raw("ubj")`), so
that a model is checked in Python before XGBoost's own parser sees it
(decisions/predictors/tree_structure.py).

Only what XGBoost writes is accepted: objects, arrays (plain, counted, or typed and counted),
integers, floats, strings, booleans and null, big-endian, nested at most MAX_NESTING deep; no
no-op markers, no repeated key, nothing after the document. So there is one way to read the
bytes, and XGBoost reads the document that was checked. A length is checked against the bytes
left before anything is allocated for it. Typed arrays of numbers come back as numpy arrays;
everything else as plain Python values.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np

MAX_NESTING: Final = 64

_SCALARS: Final = {
    ord("i"): struct.Struct(">b"),
    ord("U"): struct.Struct(">B"),
    ord("I"): struct.Struct(">h"),
    ord("l"): struct.Struct(">i"),
    ord("L"): struct.Struct(">q"),
    ord("d"): struct.Struct(">f"),
    ord("D"): struct.Struct(">d"),
}
_INTEGERS: Final = frozenset(map(ord, "iUIlL"))
_ARRAYS: Final = {
    ord(m): np.dtype(t)
    for m, t in zip("iUIlLdD", (">i1", "u1", ">i2", ">i4", ">i8", ">f4", ">f8"), strict=True)
}


class UBJSONError(ValueError):
    """The bytes are not UBJSON as XGBoost writes it."""


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.at = 0

    def marker(self) -> int:
        if self.at >= len(self.data):
            raise UBJSONError("it ends in the middle of a value")
        self.at += 1
        return self.data[self.at - 1]

    def peek(self) -> int | None:
        return self.data[self.at] if self.at < len(self.data) else None

    def scalar(self, marker: int) -> int | float:
        unpack = _SCALARS.get(marker)
        if unpack is None:
            raise UBJSONError(f"unknown type marker {chr(marker)!r}")
        if self.at + unpack.size > len(self.data):
            raise UBJSONError("it ends in the middle of a value")
        (value,) = unpack.unpack_from(self.data, self.at)
        self.at += unpack.size
        return value

    def length(self, item_size: int = 1) -> int:
        """A count of items of `item_size` bytes; more than the bytes left is a lie."""
        marker = self.marker()
        if marker not in _INTEGERS:
            raise UBJSONError(f"a length has the type marker {chr(marker)!r}, not an integer's")
        n = self.scalar(marker)
        if n < 0 or n * item_size > len(self.data) - self.at:
            raise UBJSONError("a length exceeds the bytes that follow")
        return n

    def string(self) -> str:
        n = self.length()
        self.at += n
        try:
            return self.data[self.at - n : self.at].decode("utf-8")
        except UnicodeDecodeError:
            raise UBJSONError("a string is not UTF-8") from None

    def value(self, marker: int, depth: int) -> Any:
        if marker == 0x7B:  # {
            return self.object(depth + 1)
        if marker == 0x5B:  # [
            return self.array(depth + 1)
        if marker == 0x53:  # S
            return self.string()
        if marker == 0x54:  # T
            return True
        if marker == 0x46:  # F
            return False
        if marker == 0x5A:  # Z
            return None
        return self.scalar(marker)

    def object(self, depth: int) -> dict:
        if depth > MAX_NESTING:
            raise UBJSONError(f"it nests deeper than {MAX_NESTING} levels")
        result: dict[str, Any] = {}
        while True:
            if self.peek() == 0x7D:  # }
                self.at += 1
                return result
            key = self.string()
            if key in result:
                raise UBJSONError(f"an object repeats the key {key[:40]!r}")
            result[key] = self.value(self.marker(), depth)

    def array(self, depth: int) -> Any:
        if depth > MAX_NESTING:
            raise UBJSONError(f"it nests deeper than {MAX_NESTING} levels")
        if self.peek() == 0x24:  # $: typed and counted
            self.at += 1
            dtype = _ARRAYS.get(self.marker())
            if dtype is None or self.marker() != 0x23:
                raise UBJSONError("a typed array is not of numbers with a count")
            n = self.length(dtype.itemsize)
            self.at += n * dtype.itemsize
            return np.frombuffer(self.data, dtype=dtype, count=n, offset=self.at - n * dtype.itemsize).astype(
                dtype.newbyteorder("=")
            )
        if self.peek() == 0x23:  # #: counted
            self.at += 1
            return [self.value(self.marker(), depth) for _ in range(self.length())]
        items: list[Any] = []
        while (marker := self.marker()) != 0x5D:  # ]
            items.append(self.value(marker, depth))
        return items


def ubjson_loads(data: bytes) -> Any:
    """The document in `data`; UBJSONError naming what is wrong otherwise."""
    reader = _Reader(bytes(data))
    document = reader.value(reader.marker(), 0)
    if reader.at != len(reader.data):
        raise UBJSONError("bytes follow the end of the document")
    return document
