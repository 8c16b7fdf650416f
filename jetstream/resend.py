"""Resending a publisher's messages after transient failures, with backoff.

Owns the resend policy of :class:`~jetstream.publisher.Publisher`: which failures are retried,
the backoff (``retry_wait`` doubling up to :data:`~jetstream.publish.MAX_RETRY_WAIT`), the tasks
that wait it out, and the one look-up per subject that tells a 503 "no responders" during a stream
leader election (a stream listens: keep resending until the ack timeout) from a subject no stream
listens on (fail at once). A 503 means the message was not stored, so resending is safe; a
timed-out ack is resent only with a ``Nats-Msg-Id``, since only then does the server drop a
duplicate (wire.md 2.7). Must not write to the connection itself: the publisher's ``send`` does.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from .context import JsContext
from .errors import NoStreamResponseError
from .publish import MAX_RETRY_WAIT, explain_no_responders
from .window import Pending, Window

__all__ = ["Resender"]


class Resender:
    """Backoff and resend of one publisher's window entries (see the module docstring)."""

    def __init__(
        self,
        js: JsContext,
        window: Window,
        *,
        retries: int,
        retry_wait: float,
        timeout: float,
        send: Callable[[Pending], Awaitable[None]],
        stopped: Callable[[], bool],
        fail: Callable[[BaseException], None],
        wake: Callable[[], None],
    ) -> None:
        self._js = js
        self._win = window
        self.retries = retries
        self.retry_wait = retry_wait
        self.timeout = timeout
        self._send = send  # writes a resent entry (new token, epoch) to the connection
        self._stopped = stopped  # the publisher failed or closed: resends give up
        self._fail = fail
        self._wake = wake
        self._loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task] = set()
        self._listened: dict[str, bool] = {}  # after 503s: does a stream listen on the subject?

    def retry(self, entry: Pending, cause: Optional[BaseException]) -> None:
        """Resend ``entry`` after a backoff, or fail with ``cause``. ``cause`` None means a 503
        (no stream leader yet): retried ``retries`` times, then, if a stream listens on the
        subject, on until the ack timeout since it was first sent; then explained and raised."""
        wait = min(self.retry_wait * (2 ** entry.attempts), MAX_RETRY_WAIT)
        if entry.attempts >= self.retries:
            if cause is not None:
                self._fail(cause)
                return
            if self._loop.time() + wait - entry.first_sent > self.timeout:
                self._spawn(self._fail_explained(entry.subject))
                return
            if self._listened.get(entry.subject) is not True:
                self._win.hold(entry)
                self._spawn(self._explain_then_resend(entry, wait))
                return
        entry.attempts += 1
        self._win.hold(entry)
        self._spawn(self._resend(entry, wait))

    async def wait_all(self) -> None:
        """Wait for the resends in progress (after an error they give up: at most ~1 s)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks))

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _explain_then_resend(self, entry: Pending, wait: float) -> None:
        err: Optional[NoStreamResponseError] = None
        try:
            if self._listened.get(entry.subject) is None:
                err = await explain_no_responders(self._js, entry.subject)
                # Unknown (the meta leader did not answer either) counts as "may be an election".
                self._listened[entry.subject] = err.listened is not False
        finally:
            self._win.unhold(entry)
        if self._listened.get(entry.subject):
            entry.attempts += 1
            self._win.hold(entry)
            await self._resend(entry, wait)
        else:
            self._fail(err or NoStreamResponseError(f"no stream matches subject {entry.subject!r}"))
            self._wake()

    async def _fail_explained(self, subject: str) -> None:
        self._win.retrying += 1  # keeps wait()/settle() from ending before the error is set
        try:
            self._fail(await explain_no_responders(self._js, subject))
        finally:
            self._win.retrying -= 1
            self._wake()

    async def _resend(self, entry: Pending, wait: float) -> None:
        win = self._win
        sent = False
        try:
            await asyncio.sleep(wait)
            if self._stopped():
                win.nbytes -= entry.size
                win.withdrawn += 1  # given up after the error: never stored
                return
            sent = True
            await self._send(entry)
        except asyncio.CancelledError:
            if not sent:  # cancelled (the publisher closed) before it was resent: not stored
                win.nbytes -= entry.size
                win.withdrawn += 1
            raise
        except Exception as err:  # noqa: BLE001 - reported as the publisher's error
            self._fail(err)
        finally:
            win.retrying -= 1
            self._wake()
