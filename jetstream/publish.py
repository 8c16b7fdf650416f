"""Publishing one message into a stream and waiting for its ack; what a 503 to the end means.

Owns ``publish`` (one message, its ack parsed into a :class:`PubAck` or the mapped API error) and
``explain_no_responders``. The server answers a JetStream publish with 503 "no responders" both when
no stream listens on the subject and when the stream that does has no leader (an election): the
message was not stored, so a resend is safe and is retried with backoff (``MAX_RETRY_WAIT``). A 503
that outlasts its retries is explained before it is raised: a stream that listens on the subject but
did not answer has no leader (:class:`StreamUnavailableError`); only when no stream listens is it
:class:`NoStreamResponseError` "no stream matches subject".

The pipelined window is :class:`~jetstream.publisher.Publisher`; header names and the publish-option
builder are in ``jetstream.headers`` (re-exported here for older importers). Must not import
``jetstream.client`` (it takes the narrow :class:`~jetstream.context.JsContext`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from protocol import STATUS_NO_RESPONDERS, Msg, NatsError, NatsTimeoutError, NoRespondersError

from .context import JsContext
from .errors import (
    APIError,
    JetStreamError,
    JetStreamTimeoutError,
    NoStreamResponseError,
    StreamUnavailableError,
    raise_for_api_response,
)
from .headers import (  # noqa: F401  (re-exported: objstore and older code import them from here)
    HDR_EXPECTED_LAST_MSG_ID,
    HDR_EXPECTED_LAST_SEQ,
    HDR_EXPECTED_LAST_SUBJ_SEQ,
    HDR_EXPECTED_STREAM,
    HDR_MSG_ID,
    HDR_ROLLUP,
    ROLLUP_ALL,
    ROLLUP_SUBJECT,
    publish_headers,
)
from .models import PubAck

__all__ = ["publish", "publish_headers", "explain_no_responders", "MAX_RETRY_WAIT"]

# Backoff cap between resends of a message that got 503 (no stream leader yet).
MAX_RETRY_WAIT = 1.0


async def explain_no_responders(js: JsContext, subject: str, timeout: float = 1.0) -> NoStreamResponseError:
    """The error for a publish to ``subject`` that got 503 "no responders" to the end.

    The server answers 503 both when no stream listens on the subject and when the stream that
    does has no leader (election in progress, quorum lost). The meta leader tells them apart
    (STREAM.NAMES with a subject filter); when it cannot be asked either, the message says both.
    """
    try:
        names = await asyncio.wait_for(js.stream_names(subject), timeout)
    except (JetStreamError, NatsError, asyncio.TimeoutError):
        err = NoStreamResponseError(
            f"no stream answered for subject {subject!r} (no stream listens on it, or its stream has no leader right now)"
        )
        err.listened = None
        return err
    if names:
        return StreamUnavailableError(
            f"stream {names[0]!r} did not answer for subject {subject!r}: it has no leader right now "
            "(leader election or lost quorum); the message was not stored",
            subject=subject,
            stream=names[0],
        )
    return NoStreamResponseError(f"no stream matches subject {subject!r}")

def _parse_ack(msg: Msg, subject: str) -> PubAck:
    if msg.raw_headers is not None and not msg.data and msg.status == STATUS_NO_RESPONDERS:
        raise NoStreamResponseError(f"no stream matches subject {subject!r}")
    try:
        resp = json.loads(msg.data)
    except ValueError as err:
        raise APIError(0, 0, f"invalid publish ack for {subject!r}: {msg.data[:80]!r}") from err
    raise_for_api_response(resp)
    return PubAck(stream=resp.get("stream", ""), seq=int(resp.get("seq", 0)), domain=resp.get("domain"), duplicate=resp.get("duplicate"))

async def publish(
    js: JsContext,
    subject: str,
    payload: bytes = b"",
    *,
    headers: Any = None,
    msg_id: Optional[str] = None,
    expected_stream: Optional[str] = None,
    expected_last_seq: Optional[int] = None,
    expected_last_subject_seq: Optional[int] = None,
    expected_last_msg_id: Optional[str] = None,
    rollup: Optional[str] = None,
    timeout: Optional[float] = None,
    retries: int = 2,
    retry_wait: float = 0.25,
) -> PubAck:
    """Publish one message and wait for its ack.

    Raises :class:`NoStreamResponseError` when no stream listens on ``subject`` (after
    ``retries`` tries ``retry_wait`` apart, as leader elections also answer 503), the mapped
    APIError (``WrongLastSequenceError``, ``StreamSealedError``, ...), :class:`JetStreamTimeoutError`.
    """
    hdrs = publish_headers(
        headers,
        msg_id=msg_id,
        expected_stream=expected_stream,
        expected_last_seq=expected_last_seq,
        expected_last_subject_seq=expected_last_subject_seq,
        expected_last_msg_id=expected_last_msg_id,
        rollup=rollup,
    )
    nc = js.connection
    timeout = timeout or js.timeout
    loop = asyncio.get_running_loop()
    # A 503 is retried ``retries`` times; then, if a stream does listen on the subject (its
    # leader is being elected, which takes seconds), on with backoff for up to ``timeout`` in
    # all. The message was not stored, so resending is safe.
    give_up = loop.time() + timeout
    wait = retry_wait
    attempt = 0
    explained: Optional[NoStreamResponseError] = None
    while True:
        try:
            msg = await nc.request(subject, payload, timeout=timeout, headers=hdrs)
        except NoRespondersError as err:
            attempt += 1
            if attempt > retries:
                if explained is None:
                    explained = await explain_no_responders(js, subject)
                if explained.listened is False or loop.time() + wait >= give_up:
                    raise explained from err
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_RETRY_WAIT)
            continue
        except NatsTimeoutError as err:
            raise JetStreamTimeoutError(f"no publish ack for {subject!r} within {timeout}s") from err
        return _parse_ack(msg, subject)
