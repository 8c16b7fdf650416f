"""Request/reply: one multiplexed inbox subscription for every ``request``.

Rule: a connection has at most one ``_INBOX.<nuid>.*`` subscription (``_RequestMux``), made on
the first request; each request gets its own token under it and a future keyed by that token, so
a request costs one PUB and no SUB/UNSUB. A reply for a request that already timed out finds no
future and is dropped. ``_route_permission_error`` lives here because most permission
violations the server reports are for a request or for the inbox itself; a violation for a
plain subscription ends that subscription. ``_RequestMixin`` is mixed into :class:`Connection`.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Optional

from .encoder import encode_sub
from .errors import BadSubjectError, NatsTimeoutError, NoRespondersError, PermissionViolationError
from .frames import Msg
from .headers import HeadersInput
from .nuid import next_nuid
from .subscription import Subscription

if TYPE_CHECKING:
    from .connection import Payload

__all__ = ["_RequestMixin", "_RequestMux"]

_BAD_REPLY = re.compile(r"[\x00-\x20\x7f]")


class _RequestMux(Subscription):
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


def _encoded_reply(reply: str) -> bytes:
    """Reply subjects are mostly unique (one per request): validated, never cached."""
    if _BAD_REPLY.search(reply) or not reply:
        raise BadSubjectError(f"reply subject {reply!r} is empty or contains whitespace or a control character")
    return reply.encode("utf-8")


def _expire(fut: asyncio.Future, what: str) -> None:
    if not fut.done():
        fut.set_exception(NatsTimeoutError(what))


class _RequestMixin:
    """The request/reply part of :class:`Connection`."""

    def _ensure_resp(self) -> _RequestMux:
        resp = self._resp
        if resp is None:
            prefix = self.options.inbox_prefix
            if not prefix.endswith("."):
                prefix += "."
            prefix = f"{prefix}{next_nuid()}."
            sid = next(self._sids)
            resp = _RequestMux(self, sid, prefix + "*", None, 1 << 62, 1 << 62)
            resp.futures = {}
            resp.prefix = prefix
            self._subs[sid] = resp
            self._resp = resp
            self._write_now(encode_sub(prefix + "*", sid))
        return resp

    def new_inbox(self) -> str:
        prefix = self.options.inbox_prefix
        if not prefix.endswith("."):
            prefix += "."
        return prefix + next_nuid()

    async def request(
        self,
        subject: str,
        payload: Payload = b"",
        timeout: Optional[float] = 2.0,
        headers: Optional[HeadersInput] = None,
    ) -> Msg:
        """Publish a request and return the first reply.

        Raises :class:`NoRespondersError` (nobody subscribed), :class:`NatsTimeoutError`,
        :class:`ConnectionClosedError` (also when the connection is lost while waiting).
        """
        self._check_open()
        resp = self._ensure_resp()
        token = str(next(self._resp_tokens))
        fut = self._loop.create_future()
        resp.futures[token] = fut
        self._req_subjects[token] = (fut, subject)
        handle = None
        try:
            await self.publish(subject, payload, reply=resp.prefix + token, headers=headers)
            if timeout is not None:
                handle = self._loop.call_later(timeout, _expire, fut, f"request to {subject!r} timed out after {timeout}s")
            msg: Msg = await fut
        finally:
            if handle is not None:
                handle.cancel()
            resp.futures.pop(token, None)
            self._req_subjects.pop(token, None)
        if msg._hdr is not None and not msg.data and msg.status == "503":
            raise NoRespondersError(f"no responders for request to {subject!r}")
        return msg

    def _fail_requests(self, err: BaseException, resp: Optional[_RequestMux] = None) -> None:
        resp = resp or self._resp
        if resp is None:
            return
        for fut in resp.futures.values():
            if not fut.done():
                fut.set_exception(err)
        resp.futures.clear()
        self._req_subjects.clear()

    def _route_permission_error(self, err: PermissionViolationError) -> None:
        """Fail the operation that caused a permission violation; the connection stays open.

        The server sends one -ERR per refused op, in order: each error ends one subscription
        (the oldest matching subject and queue) or fails one request (the oldest to that
        subject). A refused request inbox fails every pending request. Anything else is kept
        for the next ``flush()``.
        """
        text = err.text
        quoted = text.split('"')[1::2]
        subject = quoted[0] if quoted else ""
        low = text.lower()
        routed = False
        resp = self._resp
        if "for subscription" in low:
            queue = quoted[1] if "using queue" in low and len(quoted) > 1 else None
            if resp is not None and subject == resp.subject:
                self._subs.pop(resp.sid, None)
                self._resp = None
                self._fail_requests(err, resp)
                routed = True
            else:
                for sub in list(self._subs.values()):
                    if sub.subject == subject and sub.queue == queue and not isinstance(sub, _RequestMux):
                        self._subs.pop(sub.sid, None)
                        sub._finish(err)
                        routed = True
                        break
        elif resp is not None:
            if "with reply of" in low and subject.startswith(resp.prefix):
                entry = self._req_subjects.get(subject[len(resp.prefix) :])
                if entry is not None and not entry[0].done():
                    entry[0].set_exception(err)
                    routed = True
            else:
                for fut, subj in list(self._req_subjects.values()):
                    if subj == subject and not fut.done():
                        fut.set_exception(err)
                        routed = True
                        break
        if not routed:
            self._pending_error = err
        self._report_error(err)
