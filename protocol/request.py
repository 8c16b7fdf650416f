"""Request/reply: one multiplexed inbox subscription for every ``request``.

Rule: a connection has at most one ``_INBOX.<nuid>.*`` subscription (``_RequestMux``), made on
the first request; each request gets its own token under it and a future keyed by that token, so
a request costs one PUB and no SUB/UNSUB. A reply for a request that already timed out finds no
future and is dropped. ``_route_permission_error`` lives here because most permission
violations the server reports are for a request or for the inbox itself; a violation for a
plain subscription ends that subscription. ``_RequestMixin`` is mixed into :class:`Connection`.

Publish-error routes: whoever publishes to a subject and waits for an answer other than through
``request`` (``jetstream.Publisher``, whose acks come to its own inbox) registers the subject
with ``add_publish_error_route(subject, callback)``; a ``Permissions Violation for Publish to
"subject"`` then calls ``callback(err)`` (once per ``-ERR``, so once per refused message)
instead of being kept for the next ``flush()``. ``remove_publish_error_route`` ends the route
behind a PING fence: the server checks permissions as it reads each PUB and answers ``-ERR`` at
once, so every violation caused by a publish made before the removal arrives before the PONG of
a PING sent at the removal. Until that PONG, violations for the subject are only reported (the
``error`` event), neither routed nor kept, so they never reach a later, unrelated ``flush()``.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, Callable, Optional

from .encoder import encode_sub
from .errors import BadSubjectError, NatsTimeoutError, NoRespondersError, PermissionViolationError
from .frames import Msg
from .headers import HeadersInput
from .nuid import next_nuid
from .status import ConnectionState
from .subscription import Subscription
from .wire import PING, STATUS_NO_RESPONDERS

if TYPE_CHECKING:
    from .connection import Payload

__all__ = ["_RequestMixin", "_RequestMux", "PublishErrorCallback"]

PublishErrorCallback = Callable[[PermissionViolationError], Any]

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


class _RouteFence(asyncio.Future):
    """The PONG waiter of a route removal's PING. A future (``_pongs`` holds futures) that acts
    the moment its PONG is dispatched, not a loop turn later: a violation that follows the PONG
    in the same read must already find the route gone (and be kept for ``flush()``)."""

    def __init__(self, conn: "_RequestMixin", subject: str) -> None:
        super().__init__(loop=conn._loop)
        self._conn = conn
        self._subject = subject

    def set_result(self, result: object) -> None:
        super().set_result(result)
        self._conn._route_fence_passed(self._subject, False)

    def set_exception(self, exception: object) -> None:  # type: ignore[override]
        super().set_exception(exception)  # type: ignore[arg-type]
        self.exception()  # nobody awaits a fence: retrieved here, so asyncio logs nothing
        self._conn._route_fence_passed(self._subject, True)


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

    # Publish-error routes (module docstring), created on first use: subject -> callbacks, and
    # subject -> fences not yet passed (routes removed, their violations may still be coming).
    _publish_routes: Optional[dict[str, list[PublishErrorCallback]]] = None
    _retired_routes: Optional[dict[str, int]] = None

    def add_publish_error_route(self, subject: str, callback: PublishErrorCallback) -> None:
        """Send a permission violation for publishing to ``subject`` to ``callback(err)``.

        Called once per ``-ERR`` the server sends for that subject, from the connection's read
        path: it must not block (set a future, record the error). Several callbacks may share a
        subject; each one is called. The error is still reported through the ``error`` event
        and ``error_cb``, but never kept for the next ``flush()``. Remove the route with
        :meth:`remove_publish_error_route` once no answer is expected any more.
        """
        routes = self._publish_routes
        if routes is None:
            routes = self._publish_routes = {}
        cbs = routes.get(subject)
        if cbs is None:
            routes[subject] = [callback]
        else:
            cbs.append(callback)

    def remove_publish_error_route(self, subject: str, callback: PublishErrorCallback) -> None:
        """Remove one route added with :meth:`add_publish_error_route` (no error if absent).

        Violations for ``subject`` that are still on their way (caused by publishes made before
        this call) are absorbed up to the PONG of a PING sent now: reported, never kept for a
        later ``flush()``. Over a reconnect the fence is sent again on the new connection (after
        whatever the reconnect buffer replays); on close it ends.
        """
        routes = self._publish_routes
        cbs = routes.get(subject) if routes else None
        if not cbs:
            return
        try:
            cbs.remove(callback)
        except ValueError:
            return
        if not cbs:
            del routes[subject]  # type: ignore[union-attr]
            retired = self._retired_routes
            if retired is None:
                retired = self._retired_routes = {}
            retired[subject] = retired.get(subject, 0) + 1
            self._arm_route_fence(subject)

    def _arm_route_fence(self, subject: str) -> None:
        if self._state is ConnectionState.CLOSED:
            self._retired_routes = None
            return
        # Matched to its PONG in order, like flush(); queued behind every publish made so far
        # (also in the reconnect buffer: _flush_out sends it after those).
        self._pongs.append(_RouteFence(self, subject))
        self._write_now(PING)

    def _route_fence_passed(self, subject: str, failed: bool) -> None:
        retired = self._retired_routes
        if retired is None or subject not in retired:
            return
        if failed:
            # The connection was lost before the PONG: publishes still buffered are replayed on
            # the next connection, so fence again there (nothing to fence once closed).
            if self._state is not ConnectionState.CLOSED:
                # Next loop turn: _fail_pongs is still emptying the deque that would take it.
                self._loop.call_soon(self._arm_route_fence, subject)
                return
            self._retired_routes = None
            return
        n = retired[subject] - 1
        if n:
            retired[subject] = n
        else:
            del retired[subject]

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
        if msg._hdr is not None and not msg.data and msg.status == STATUS_NO_RESPONDERS:
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
        subject). A refused request inbox fails every pending request. A refused publish with
        no request to its subject goes to the publish-error routes of that subject (module
        docstring). Anything else, a plain ``publish`` nobody registered for, is kept for the
        next ``flush()`` (the latest one only), as before; every violation is also reported
        through the ``error`` event and ``error_cb``.
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
        elif "with reply of" in low:
            if resp is not None and subject.startswith(resp.prefix):
                entry = self._req_subjects.get(subject[len(resp.prefix) :])
                if entry is not None and not entry[0].done():
                    entry[0].set_exception(err)
                    routed = True
        else:
            # A publish: the oldest request to that subject, else the registered routes, else a
            # route removed whose fence has not passed yet (absorbed: reported only).
            if resp is not None:
                for fut, subj in list(self._req_subjects.values()):
                    if subj == subject and not fut.done():
                        fut.set_exception(err)
                        routed = True
                        break
            if not routed:
                routes = self._publish_routes
                cbs = routes.get(subject) if routes else None
                if cbs:
                    routed = True
                    for cb in list(cbs):
                        try:
                            cb(err)
                        except Exception:  # noqa: BLE001 - a route must not break the read path
                            pass
                elif self._retired_routes and subject in self._retired_routes:
                    routed = True
        if not routed:
            self._pending_error = err
        self._report_error(err)
