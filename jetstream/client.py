"""``JetStream``: the JetStream API over a ``protocol`` connection.

One request path (``request_json``) turns every API reply into a dict or a typed exception
chosen by ``err_code`` (``jetstream.errors``); a request that reaches no responder means
JetStream is not enabled (or the stream does not allow direct gets). Streams, message get,
direct get (single and batch), purge, account info and consumer management live here;
publishing is in ``publish``, ordered consumers in ``ordered``, pull fetch in ``pull``.
Imports only the public API of ``protocol``.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Mapping, Optional, Union

import protocol
from protocol import (
    STATUS_EOB,
    STATUS_NO_MESSAGES,
    STATUS_NO_RESPONDERS,
    Headers,
    Msg,
    NatsTimeoutError,
    NoRespondersError,
)

from . import subjects as subj
from .codec import parse_time
from .headers import HDR_SEQUENCE, HDR_SUBJECT, HDR_TIMESTAMP
from .errors import (
    APIError,
    InvalidArgumentError,
    JetStreamNotEnabledError,
    JetStreamTimeoutError,
    MessageNotFoundError,
    raise_for_api_response,
)
from .ordered import OrderedConsumer
from .publish import publish
from .publisher import Publisher
from .pull import PullConsumer
from .models import (
    AccountInfo,
    ConsumerConfig,
    ConsumerInfo,
    MsgGetRequest,
    PubAck,
    PurgeRequest,
    StoredMsg,
    StreamConfig,
    StreamInfo,
)

__all__ = ["JetStream", "direct_origin"]

DEFAULT_TIMEOUT = 5.0



def _encode_body(body: Union[Mapping[str, Any], bytes, None]) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _stored_from_direct(msg: Msg) -> StoredMsg:
    """A direct-get reply (plain message + Nats-* headers) as a StoredMsg."""
    hdrs = msg.headers or Headers()
    raw_time = hdrs.get(HDR_TIMESTAMP)
    return StoredMsg(
        subject=hdrs.get(HDR_SUBJECT, ""),
        seq=int(hdrs.get(HDR_SEQUENCE, "0") or 0),
        headers=msg.raw_headers or b"",
        data=msg.data,
        time=parse_time(raw_time) if raw_time else None,
    )


def direct_origin(msg: Msg) -> tuple[str, int]:
    """A direct-get reply's stored subject and stream sequence, read from its raw header block
    without parsing the rest (the server writes ``Nats-Subject``/``Nats-Sequence`` as spelled)."""
    raw = msg.raw_headers or b""
    i, j = raw.find(_SUBJECT_KEY), raw.find(_SEQUENCE_KEY)
    if i < 0 or j < 0:  # another spelling: parse the block
        stored = _stored_from_direct(msg)
        return stored.subject, stored.seq
    i, j = i + len(_SUBJECT_KEY), j + len(_SEQUENCE_KEY)
    return raw[i : raw.find(b"\r\n", i)].strip().decode(), int(raw[j : raw.find(b"\r\n", j)])


_SUBJECT_KEY = f"\r\n{HDR_SUBJECT}:".encode()
_SEQUENCE_KEY = f"\r\n{HDR_SEQUENCE}:".encode()


class JetStream:
    """JetStream context. ``domain`` or ``prefix`` select the API prefix (wire.md 2.1)."""

    def __init__(
        self,
        nc: protocol.Connection,
        *,
        domain: Optional[str] = None,
        prefix: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._nc = nc
        self.prefix = subj.api_prefix(domain=domain, prefix=prefix)
        self.domain = domain
        self.timeout = timeout

    @property
    def connection(self) -> protocol.Connection:
        return self._nc

    # The one request path ----------------------------------------------------------------------
    async def request_json(
        self,
        subject: str,
        body: Union[Mapping[str, Any], bytes, None] = None,
        timeout: Optional[float] = None,
    ) -> dict[str, Any]:
        """Send an API request and return the decoded reply. Raises the mapped APIError,
        :class:`JetStreamNotEnabledError` (no responders), :class:`JetStreamTimeoutError`."""
        try:
            msg = await self._nc.request(subject, _encode_body(body), timeout=timeout or self.timeout)
        except NoRespondersError as err:
            raise JetStreamNotEnabledError(503, 0, f"JetStream not enabled or not reachable (no responders for {subject})") from err
        except NatsTimeoutError as err:
            raise JetStreamTimeoutError(f"JetStream API request {subject} timed out") from err
        try:
            resp = json.loads(msg.data)
        except ValueError as err:
            raise APIError(0, 0, f"invalid JSON in reply to {subject}: {msg.data[:80]!r}") from err
        if not isinstance(resp, dict):
            raise APIError(0, 0, f"reply to {subject} is not a JSON object")
        raise_for_api_response(resp)
        return resp

    # Account -----------------------------------------------------------------------------------
    async def account_info(self) -> AccountInfo:
        return AccountInfo.from_json(await self.request_json(subj.account_info(self.prefix)))

    # Streams -----------------------------------------------------------------------------------
    async def add_stream(self, config: Optional[StreamConfig] = None, **params: Any) -> StreamInfo:
        """Create a stream (idempotent for an identical config). Raises StreamNameInUseError."""
        config = _config(StreamConfig, config, params)
        name = subj.validate_stream_name(config.name)
        resp = await self.request_json(subj.stream_create(self.prefix, name), config.to_json())
        return StreamInfo.from_json(resp)

    async def update_stream(self, config: Optional[StreamConfig] = None, **params: Any) -> StreamInfo:
        config = _config(StreamConfig, config, params)
        name = subj.validate_stream_name(config.name)
        resp = await self.request_json(subj.stream_update(self.prefix, name), config.to_json())
        return StreamInfo.from_json(resp)

    async def stream_info(self, name: str, *, subjects_filter: Optional[str] = None, deleted_details: bool = False) -> StreamInfo:
        """Raises StreamNotFoundError."""
        body: dict[str, Any] = {}
        if subjects_filter:
            body["subjects_filter"] = subjects_filter
        if deleted_details:
            body["deleted_details"] = True
        subject = subj.stream_info(self.prefix, subj.validate_stream_name(name))
        resp = await self.request_json(subject, body or None)
        state = resp.get("state")
        subjects = state.get("subjects") if isinstance(state, dict) else None
        if subjects_filter and isinstance(subjects, dict):
            # state.subjects is paged (the server sends at most `limit` per reply): fetch the rest
            total = int(resp.get("total") or 0)
            while len(subjects) < total:
                body["offset"] = len(subjects)
                page = ((await self.request_json(subject, body)).get("state") or {}).get("subjects") or {}
                before = len(subjects)
                subjects.update(page)
                if len(subjects) == before:
                    break
        return StreamInfo.from_json(resp)

    async def delete_stream(self, name: str) -> bool:
        resp = await self.request_json(subj.stream_delete(self.prefix, subj.validate_stream_name(name)))
        return bool(resp.get("success"))

    async def purge_stream(
        self,
        name: str,
        *,
        subject: Optional[str] = None,
        seq: Optional[int] = None,
        keep: Optional[int] = None,
    ) -> int:
        """Purge the whole stream, a subject filter, everything below ``seq``, or all but ``keep``.
        Returns the number of messages purged."""
        if seq is not None and keep is not None:
            raise InvalidArgumentError("purge takes seq or keep, not both")
        body = PurgeRequest(filter=subject or None, seq=seq, keep=keep).to_json()
        resp = await self.request_json(subj.stream_purge(self.prefix, subj.validate_stream_name(name)), body or None)
        return int(resp.get("purged", 0))

    async def stream_names(self, subject: Optional[str] = None) -> list[str]:
        """Every stream name (paged), optionally only those listening on ``subject``."""
        names: list[str] = []
        async for page in self._pages(subj.stream_names(self.prefix), "streams", subject):
            names.extend(page)
        return names

    async def streams_info(self, subject: Optional[str] = None) -> list[StreamInfo]:
        out: list[StreamInfo] = []
        async for page in self._pages(subj.stream_list(self.prefix), "streams", subject):
            out.extend(StreamInfo.from_json(s) for s in page)
        return out

    async def _pages(self, subject: str, key: str, filter_subject: Optional[str]) -> AsyncIterator[list]:
        offset = 0
        while True:
            body: dict[str, Any] = {"offset": offset}
            if filter_subject:
                body["subject"] = filter_subject
            resp = await self.request_json(subject, body)
            page = resp.get(key) or []
            yield page
            offset += len(page)
            if not page or offset >= int(resp.get("total", 0)):
                return

    # Messages ----------------------------------------------------------------------------------
    async def get_msg(
        self,
        stream: str,
        seq: Optional[int] = None,
        *,
        last_by_subj: Optional[str] = None,
        next_by_subj: Optional[str] = None,
    ) -> StoredMsg:
        """Read one message through the stream leader (read-after-write consistent).
        Raises MessageNotFoundError, StreamNotFoundError."""
        body = _get_body(seq, last_by_subj, next_by_subj)
        resp = await self.request_json(subj.stream_msg_get(self.prefix, subj.validate_stream_name(stream)), body)
        return StoredMsg.from_response(resp)

    async def direct_get(
        self,
        stream: str,
        seq: Optional[int] = None,
        *,
        last_by_subj: Optional[str] = None,
        next_by_subj: Optional[str] = None,
    ) -> StoredMsg:
        """Read one message with a direct get (any replica; needs ``allow_direct``).
        Raises MessageNotFoundError, JetStreamNotEnabledError when direct get is off."""
        stream = subj.validate_stream_name(stream)
        if last_by_subj and seq is None and not next_by_subj and not subj.has_wildcard(last_by_subj):
            # the subject-appended form; a wildcard cannot be published to, so it goes in the body
            subject, payload = subj.direct_get_last(self.prefix, stream, last_by_subj), b""
        else:
            subject, payload = subj.direct_get(self.prefix, stream), _encode_body(_get_body(seq, last_by_subj, next_by_subj))
        return _check_direct(await self._direct_request(subject, payload), stream)

    async def _direct_request(self, subject: str, payload: bytes) -> Msg:
        try:
            return await self._nc.request(subject, payload, timeout=self.timeout)
        except NoRespondersError as err:
            raise JetStreamNotEnabledError(503, 0, f"direct get not available (no responders for {subject})") from err
        except NatsTimeoutError as err:
            raise JetStreamTimeoutError(f"direct get {subject} timed out") from err

    async def direct_get_batch(
        self,
        stream: str,
        batch: int,
        *,
        seq: Optional[int] = None,
        next_by_subj: Optional[str] = None,
        max_bytes: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> AsyncIterator[StoredMsg]:
        """Up to ``batch`` messages from ``seq`` (server 2.11+), ending at the 204 EOB marker."""
        raw = self.direct_get_batch_raw(stream, batch, seq=seq, next_by_subj=next_by_subj, max_bytes=max_bytes, timeout=timeout)
        try:
            async for msg in raw:
                yield _stored_from_direct(msg)
        finally:
            await raw.aclose()  # type: ignore[attr-defined]

    async def direct_get_batch_raw(
        self,
        stream: str,
        batch: int,
        *,
        seq: Optional[int] = None,
        next_by_subj: Optional[str] = None,
        max_bytes: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> AsyncIterator[Msg]:
        """``direct_get_batch`` yielding the replies as received (``protocol.Msg``, headers not
        parsed: :func:`direct_origin` reads the subject and sequence), for hot loops."""
        if seq is None and not next_by_subj:
            seq = 1  # the server answers "408 Empty Request" to a body with no start point
        body = MsgGetRequest(seq=seq, next_by_subj=next_by_subj or None, batch=batch, max_bytes=max_bytes or None)
        stream = subj.validate_stream_name(stream)
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        try:
            await self._nc.publish(subj.direct_get(self.prefix, stream), _encode_body(body.to_json()), reply=inbox)
            while True:
                try:
                    msg = await sub.next_msg(timeout or self.timeout)
                except NatsTimeoutError as err:
                    raise JetStreamTimeoutError(f"batch direct get on {stream} timed out") from err
                status = msg.status
                if status == STATUS_EOB or status == STATUS_NO_MESSAGES:
                    return  # 204 EOB ends a batch; 404: nothing at or after seq (ADR-31)
                if status:
                    raise _status_error(msg, stream)
                yield msg
        finally:
            await sub.unsubscribe()

    async def delete_msg(self, stream: str, seq: int, *, erase: bool = False) -> bool:
        body = {"seq": seq, "no_erase": not erase}
        resp = await self.request_json(subj.stream_msg_delete(self.prefix, subj.validate_stream_name(stream)), body)
        return bool(resp.get("success"))

    # Consumers ---------------------------------------------------------------------------------
    async def add_consumer(self, stream: str, config: Optional[ConsumerConfig] = None, *, action: str = "", **params: Any) -> ConsumerInfo:
        config = _config(ConsumerConfig, config, params)
        stream = subj.validate_stream_name(stream)
        name = config.name or config.durable_name
        if name:
            filt = config.filter_subject if not config.filter_subjects else None
            if filt and subj.has_wildcard(filt):
                filt = None  # the name-only create subject takes any filter in the config
            subject = subj.consumer_create(self.prefix, stream, name, filt)
        else:
            subject = subj.consumer_create_legacy(self.prefix, stream)
        body: dict[str, Any] = {"stream_name": stream, "config": config.to_json()}
        if action:
            body["action"] = action
        return ConsumerInfo.from_json(await self.request_json(subject, body))

    async def consumer_info(self, stream: str, name: str) -> ConsumerInfo:
        resp = await self.request_json(subj.consumer_info(self.prefix, subj.validate_stream_name(stream), name))
        return ConsumerInfo.from_json(resp)

    async def delete_consumer(self, stream: str, name: str) -> bool:
        resp = await self.request_json(subj.consumer_delete(self.prefix, subj.validate_stream_name(stream), name))
        return bool(resp.get("success"))

    # Publishing and consuming (implemented in their own modules) -------------------------------
    async def publish(self, subject: str, payload: bytes = b"", **kwargs: Any) -> PubAck:
        """Publish and wait for the stream's ack; see :func:`jetstream.publish.publish`."""
        return await publish(self, subject, payload, **kwargs)

    def publisher(self, **kwargs: Any) -> Publisher:
        """A pipelined publisher (async context manager); see :class:`jetstream.publish.Publisher`."""
        return Publisher(self, **kwargs)

    def ordered_consumer(self, stream: str, **kwargs: Any) -> OrderedConsumer:
        """An ordered push consumer as an async iterator; see :class:`jetstream.ordered.OrderedConsumer`."""
        return OrderedConsumer(self, stream, **kwargs)

    async def pull_consumer(self, stream: str, config: Optional[ConsumerConfig] = None, **params: Any) -> PullConsumer:
        """Create (or bind) a pull consumer; see :class:`jetstream.pull.PullConsumer`."""
        return await PullConsumer.create(self, stream, config, **params)


def _config(cls: Any, config: Any, params: dict[str, Any]) -> Any:
    if config is None:
        return cls(**params)
    if params:
        import dataclasses

        return dataclasses.replace(config, **params)
    return config


def _get_body(seq: Optional[int], last_by_subj: Optional[str], next_by_subj: Optional[str]) -> dict[str, Any]:
    body = MsgGetRequest(seq=seq, last_by_subj=last_by_subj or None, next_by_subj=next_by_subj or None).to_json()
    if not body:
        raise InvalidArgumentError("message get needs seq, last_by_subj or next_by_subj")
    return body


def _status_error(msg: Msg, stream: str) -> APIError:
    status = msg.status
    if status == STATUS_NO_MESSAGES:
        return MessageNotFoundError(404, 10037, f"no message found in {stream}")
    if status == STATUS_NO_RESPONDERS:  # no responders: no such stream, or allow_direct is off
        return JetStreamNotEnabledError(503, 0, f"direct get not available on {stream} (no responders)")
    return APIError(int(status) if status.isdigit() else 0, 0, f"{msg.description or 'error'} (direct get on {stream})")


def _check_direct(msg: Msg, stream: str) -> StoredMsg:
    if msg.raw_headers is not None and msg.status:
        raise _status_error(msg, stream)
    return _stored_from_direct(msg)

