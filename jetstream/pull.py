"""Pull consumers: ``fetch`` a batch bounded in messages, bytes and time.

``PullConsumer.fetch(batch, max_bytes=, expires=)`` sends one ``CONSUMER.MSG.NEXT`` request to a
fresh inbox and collects replies until the batch is full, the server says there is nothing more
(404 / 408 / 409 status) or ``expires`` passes. ``messages(window)`` repeats fetches so at most
``window`` messages are held at a time: a bounded-memory reader.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Optional

from protocol import (
    STATUS_CONFLICT,
    STATUS_CONTROL,
    STATUS_NO_MESSAGES,
    STATUS_REQUEST_TIMEOUT,
    NatsError,
    NatsTimeoutError,
)

from .ack import AckMetadata
from .context import JsContext
from .errors import APIError
from .models import ConsumerConfig, ConsumerInfo, PullRequest
from .msg import JsMsg
from . import subjects as subj

__all__ = ["PullConsumer"]

# Statuses that end a pull request (wire.md 2.10): 404 no messages (no_wait), 408 request expired,
# 409 e.g. max bytes or max waiting exceeded / consumer deleted. 100 is a heartbeat: skipped.
_END_OF_BATCH = (STATUS_NO_MESSAGES, STATUS_REQUEST_TIMEOUT, STATUS_CONFLICT)


class PullConsumer:
    def __init__(self, js: JsContext, stream: str, info: ConsumerInfo) -> None:
        self._js = js
        self._nc = js.connection
        self.stream = stream
        self.info = info
        self.name = info.name

    @classmethod
    async def create(cls, js: JsContext, stream: str, config: Optional[ConsumerConfig] = None, **params: Any) -> "PullConsumer":
        """Create (or bind, when the same config exists) a pull consumer on ``stream``."""
        if config is None:
            params.setdefault("ack_policy", "explicit")
        info = await js.add_consumer(stream, config, **params)
        return cls(js, stream, info)

    async def fetch(
        self,
        batch: int = 1,
        *,
        max_bytes: Optional[int] = None,
        expires: float = 1.0,
        no_wait: bool = False,
    ) -> list[JsMsg]:
        """Up to ``batch`` messages (and ``max_bytes``), waiting at most ``expires`` seconds."""
        if batch < 1:
            raise ValueError("batch must be >= 1")
        request = PullRequest(batch=batch, max_bytes=max_bytes or None)
        if no_wait:
            request.no_wait = True
        else:
            request.expires = expires
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox, max_msgs=batch + 1)
        out: list[JsMsg] = []
        try:
            await self._nc.publish(
                subj.consumer_msg_next(self._js.prefix, self.stream, self.name),
                json.dumps(request.to_json()).encode(),
                reply=inbox,
            )
            grace = expires + 1.0
            while len(out) < batch:
                try:
                    msg = await sub.next_msg(timeout=grace)
                except NatsTimeoutError:
                    break
                except NatsError:
                    break
                status = msg.status
                if status:
                    if status in _END_OF_BATCH:
                        break
                    if status == STATUS_CONTROL:
                        continue
                    raise APIError(int(status), 0, msg.description or "pull request failed")
                out.append(JsMsg(msg, AckMetadata.from_reply(msg.reply)))
        finally:
            if not sub.closed:
                await sub.unsubscribe()
        return out

    async def messages(self, window: int = 64, *, max_bytes: Optional[int] = None, expires: float = 1.0) -> AsyncIterator[JsMsg]:
        """Every message, fetched ``window`` at a time; ends when a fetch returns nothing."""
        while True:
            batch = await self.fetch(window, max_bytes=max_bytes, expires=expires)
            if not batch:
                return
            for m in batch:
                yield m

    async def delete(self) -> bool:
        return await self._js.delete_consumer(self.stream, self.name)
