"""``ObjectResult``: what nats-py's ``ObjectStore.get`` returns (``.info``, ``.data``), for code
ported from nats-py. ``store.get(name, result=True)`` gives one; plain ``get()`` keeps returning
bytes, as the API document says.

``async for piece in result`` yields the data as bytes in slices of the object's chunk size, so
code that iterates a result and code that reads ``.data`` both work. Must not read anything from the server: the store fills it in after a verified get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from .models import DEFAULT_CHUNK_SIZE, ObjectInfo

__all__ = ["ObjectResult"]


@dataclass
class ObjectResult:
    """An object read by ``store.get(name, result=True)``: its ``info`` (the link target's, for a
    link) and its verified ``data`` (``b""`` when the get streamed into ``writeinto``)."""

    info: ObjectInfo
    data: bytes = b""

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return bytes(self.data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        data = self.data
        step = self.info.chunk_size or DEFAULT_CHUNK_SIZE
        if len(data) <= step:
            if data:
                yield bytes(data)
            return
        for start in range(0, len(data), step):
            yield data[start : start + step]
