"""``JsContext``: the narrow view of a JetStream context that publish, ordered and pull take.

Owns the interface only (a ``typing.Protocol``), so that those modules need not import
``jetstream.client`` (which imports them: that would be a cycle, even under TYPE_CHECKING).
``JetStream`` satisfies it structurally. Must not hold state or do I/O.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Protocol, Union

import protocol

from .models import ConsumerConfig, ConsumerInfo

__all__ = ["JsContext"]


class JsContext(Protocol):
    """What a publisher or consumer needs of a JetStream context: the connection, the API prefix
    and default timeout, the one API request path, and the few API calls they make."""

    prefix: str
    timeout: float

    @property
    def connection(self) -> protocol.Connection: ...

    async def request_json(
        self, subject: str, body: Union[Mapping[str, Any], bytes, None] = None, timeout: Optional[float] = None
    ) -> dict[str, Any]: ...

    async def stream_names(self, subject: Optional[str] = None) -> list[str]: ...

    async def add_consumer(
        self, stream: str, config: Optional[ConsumerConfig] = None, *, action: str = "", **params: Any
    ) -> ConsumerInfo: ...

    async def delete_consumer(self, stream: str, name: str) -> bool: ...
