"""Request/reply: ``Requests``, one multiplexed inbox subscription for every ``request``.

Rule: a connection has at most one ``_INBOX.<nuid>.*`` subscription (:class:`RequestMux`), made
on the first request; each request gets its own token under it and a future keyed by that token,
so a request costs one PUB and no SUB/UNSUB (nats.go's respMux). A reply for a request that
already timed out finds no future and is dropped. This module owns the mux, the tokens and the
pending requests; it publishes only through the ``publish`` it is handed and never decides about
the connection (a refused inbox is ``permissions``' call).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any, Awaitable, Callable, Optional

from .encoder import encode_sub
from .errors import BadSubjectError, NatsTimeoutError, NoRespondersError
from .frames import Msg
from .headers import HeadersInput
from .nuid import next_nuid
from .subscription import Subscription
from .subtable import SubscriptionTable
from .wire import STATUS_NO_RESPONDERS

__all__ = ["Requests", "RequestMux", "encoded_reply", "expire"]

_BAD_REPLY = re.compile(r"[\x00-\x20\x7f]")


class RequestMux(Subscription):
    """The one ``_INBOX.<nuid>.*`` subscription behind every ``request``."""

    __slots__ = ("futures", "prefix")

    def _deliver(self, msg: Msg) -> None:
        futures = self.futures
        if msg.subject.startswith(self.prefix):
            # Our token: its request, or none if that one timed out (never another request's).
            fut = futures.pop(msg.subject[len(self.prefix) :], None)
        elif len(futures) == 1:
            # A reply may arrive with a rewritten subject (wire.md 1.7): one pending -> it is ours.
            _, fut = futures.popitem()
        else:
            fut = None
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _deliver_many(self, msgs: list) -> None:
        for msg in msgs:
            self._deliver(msg)


def encoded_reply(reply: str) -> bytes:
    """Reply subjects are mostly unique (one per request): validated, never cached."""
    if _BAD_REPLY.search(reply) or not reply:
        raise BadSubjectError(f"reply subject {reply!r} is empty or contains whitespace or a control character")
    return reply.encode("utf-8")


def expire(fut: asyncio.Future, what: str) -> None:
    """Timer callback: fail ``fut`` with :class:`NatsTimeoutError` unless it is done."""
    if not fut.done():
        fut.set_exception(NatsTimeoutError(what))


def inbox_prefix(options: Any) -> str:
    prefix = options.inbox_prefix
    return prefix if prefix.endswith(".") else prefix + "."


class Requests:
    """The request mux and the requests waiting on it. ``by_token`` maps each pending request's
    token to its future and the subject it was sent to (permission errors name the subject)."""

    __slots__ = ("mux", "by_token", "_tokens", "_loop", "_options", "_table", "_write")

    def __init__(self, loop: asyncio.AbstractEventLoop, options: Any, table: SubscriptionTable, write: Callable[[bytes], None]) -> None:
        self.mux: Optional[RequestMux] = None
        self.by_token: dict[str, tuple[asyncio.Future, str]] = {}
        self._tokens = itertools.count(1)
        self._loop = loop
        self._options = options
        self._table = table
        self._write = write

    def ensure_mux(self) -> RequestMux:
        mux = self.mux
        if mux is None:
            prefix = f"{inbox_prefix(self._options)}{next_nuid()}."
            sid = self._table.next_sid()
            mux = RequestMux(self._table, sid, prefix + "*", None, 1 << 62, 1 << 62)
            mux.futures = {}
            mux.prefix = prefix
            self._table.add(mux)
            self.mux = mux
            self._write(encode_sub(prefix + "*", sid))
        return mux

    def new_inbox(self) -> str:
        return inbox_prefix(self._options) + next_nuid()

    async def request(
        self,
        publish: Callable[..., Awaitable[None]],
        subject: str,
        payload: Any,
        timeout: Optional[float],
        headers: Optional[HeadersInput],
    ) -> Msg:
        mux = self.ensure_mux()
        token = str(next(self._tokens))
        fut = self._loop.create_future()
        mux.futures[token] = fut
        self.by_token[token] = (fut, subject)
        handle = None
        try:
            await publish(subject, payload, reply=mux.prefix + token, headers=headers)
            if timeout is not None:
                handle = self._loop.call_later(timeout, expire, fut, f"request to {subject!r} timed out after {timeout}s")
            msg: Msg = await fut
        finally:
            if handle is not None:
                handle.cancel()
            mux.futures.pop(token, None)
            self.by_token.pop(token, None)
        # An empty 503 status message is the server's "no responders" (ADR-40, no_responders).
        if msg._hdr is not None and not msg.data and msg.status == STATUS_NO_RESPONDERS:
            raise NoRespondersError(f"no responders for request to {subject!r}")
        return msg

    def fail_all(self, err: BaseException, mux: Optional[RequestMux] = None) -> None:
        mux = mux or self.mux
        if mux is None:
            return
        for fut in mux.futures.values():
            if not fut.done():
                fut.set_exception(err)
        mux.futures.clear()
        self.by_token.clear()

    def drop_mux(self, err: BaseException) -> None:
        """The server refused the inbox subscription: fail every request; the next request
        subscribes a new inbox."""
        mux = self.mux
        if mux is None:
            return
        self._table.forget(mux.sid)
        self.mux = None
        self.fail_all(err, mux)
