"""``PermissionRouter``: where a ``Permissions Violation`` the server sends goes.

Rule: this module owns the publish-error routes and their fences, and decides which operation a
permission violation belongs to; it never closes a connection (the server keeps it open after
one: nats-server client.go pubPermissionViolation, replySubjectViolation, processSub) and
writes nothing but the fence PINGs, through ``Keepalive``.

The server sends one ``-ERR`` per refused op, in order: each error ends one subscription (the
oldest matching subject and queue) or fails one request (the oldest to that subject). A refused
request inbox fails every pending request. A refused publish with no request to its subject goes
to the publish-error routes of that subject. Anything else, a plain ``publish`` nobody
registered for, is kept for the next ``flush()`` (the latest one only); every violation is also
reported through the ``error`` event and ``error_cb``.

Publish-error routes: whoever publishes to a subject and waits for an answer other than through
``request`` (``jetstream.Publisher``, whose acks come to its own inbox) registers the subject
with ``add_publish_error_route(subject, callback)``; a violation for it then calls
``callback(err)`` (once per ``-ERR``, so once per refused message) instead of being kept.
``remove_publish_error_route`` ends the route behind a PING fence: the server checks permissions
as it reads each PUB and answers ``-ERR`` at once, so every violation caused by a publish made
before the removal arrives before the PONG of a PING sent at the removal. Until that PONG,
violations for the subject are only reported, neither routed nor kept, so they never reach a
later, unrelated ``flush()``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from .errors import PermissionViolationError
from .keepalive import Keepalive
from .request import RequestMux, Requests
from .subtable import SubscriptionTable

__all__ = ["PermissionRouter", "PublishErrorCallback"]

PublishErrorCallback = Callable[[PermissionViolationError], Any]


class RouteFence(asyncio.Future):
    """The PONG waiter of a route removal's PING. A future (``Keepalive`` holds futures) that
    acts the moment its PONG is dispatched, not a loop turn later: a violation that follows the
    PONG in the same read must already find the route gone (and be kept for ``flush()``)."""

    def __init__(self, router: "PermissionRouter", subject: str) -> None:
        super().__init__(loop=router.loop)
        self._router = router
        self._subject = subject

    def set_result(self, result: object) -> None:
        super().set_result(result)
        self._router.fence_passed(self._subject, False)

    def set_exception(self, exception: object) -> None:  # type: ignore[override]
        super().set_exception(exception)  # type: ignore[arg-type]
        self.exception()  # nobody awaits a fence: retrieved here, so asyncio logs nothing
        self._router.fence_passed(self._subject, True)


class PermissionRouter:
    """Publish-error routes (subject -> callbacks), retired routes (subject -> fences not yet
    passed), and :meth:`route`, which sends each violation to the operation it belongs to."""

    __slots__ = ("routes", "retired", "loop", "_requests", "_table", "_keepalive", "_is_closed", "_keep", "_report")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        requests: Requests,
        table: SubscriptionTable,
        keepalive: Keepalive,
        is_closed: Callable[[], bool],
        keep: Callable[[BaseException], None],
        report: Callable[[BaseException], None],
    ) -> None:
        self.routes: Optional[dict[str, list[PublishErrorCallback]]] = None
        self.retired: Optional[dict[str, int]] = None
        self.loop = loop
        self._requests = requests
        self._table = table
        self._keepalive = keepalive
        self._is_closed = is_closed
        self._keep = keep
        self._report = report

    def add_route(self, subject: str, callback: PublishErrorCallback) -> None:
        routes = self.routes
        if routes is None:
            routes = self.routes = {}
        cbs = routes.get(subject)
        if cbs is None:
            routes[subject] = [callback]
        else:
            cbs.append(callback)

    def remove_route(self, subject: str, callback: PublishErrorCallback) -> None:
        routes = self.routes
        cbs = routes.get(subject) if routes else None
        if not cbs:
            return
        try:
            cbs.remove(callback)
        except ValueError:
            return
        if not cbs:
            del routes[subject]  # type: ignore[index]
            retired = self.retired
            if retired is None:
                retired = self.retired = {}
            retired[subject] = retired.get(subject, 0) + 1
            self._arm_fence(subject)

    def _arm_fence(self, subject: str) -> None:
        if self._is_closed():
            self.retired = None
            return
        # Matched to its PONG in order, like flush(); queued behind every publish made so far
        # (also in the reconnect buffer: the outbox sends it after those).
        self._keepalive.ping(RouteFence(self, subject))

    def fence_passed(self, subject: str, failed: bool) -> None:
        retired = self.retired
        if retired is None or subject not in retired:
            return
        if failed:
            # The connection was lost before the PONG: publishes still buffered are replayed on
            # the next connection, so fence again there (nothing to fence once closed).
            if not self._is_closed():
                # Next loop turn: Keepalive.fail_all is still emptying the deque that would take it.
                self.loop.call_soon(self._arm_fence, subject)
                return
            self.retired = None
            return
        n = retired[subject] - 1
        if n:
            retired[subject] = n
        else:
            del retired[subject]

    def route(self, err: PermissionViolationError) -> None:
        """Fail the operation that caused ``err`` (module docstring); the connection stays open."""
        subject = err.subject  # parsed once, in errors.PermissionViolationError
        routed = False
        requests = self._requests
        mux = requests.mux
        if err.kind == "subscription":
            queue = err.queue
            if mux is not None and subject == mux.subject:
                requests.drop_mux(err)
                routed = True
            else:
                for sub in list(self._table.by_sid.values()):
                    if sub.subject == subject and sub.queue == queue and not isinstance(sub, RequestMux):
                        self._table.forget(sub.sid)
                        sub._finish(err)
                        routed = True
                        break
        elif err.kind == "reply":
            if mux is not None and subject.startswith(mux.prefix):
                entry = requests.by_token.get(subject[len(mux.prefix) :])
                if entry is not None and not entry[0].done():
                    entry[0].set_exception(err)
                    routed = True
        else:
            # A publish: the oldest request to that subject, else the registered routes, else a
            # route removed whose fence has not passed yet (absorbed: reported only).
            if mux is not None:
                for fut, subj in list(requests.by_token.values()):
                    if subj == subject and not fut.done():
                        fut.set_exception(err)
                        routed = True
                        break
            if not routed:
                routes = self.routes
                cbs = routes.get(subject) if routes else None
                if cbs:
                    routed = True
                    for cb in list(cbs):
                        try:
                            cb(err)
                        except Exception:  # noqa: BLE001 - a route must not break the read path
                            pass
                elif self.retired and subject in self.retired:
                    routed = True
        if not routed:
            self._keep(err)
        self._report(err)
