"""JetStream API subject builders and stream/consumer name validation.

Owns every ``$JS.API...`` subject string and the ``$JS.ACK.`` / ``$JS.FC.`` reply prefixes: no other
module formats one. Each builder takes the API
``prefix`` first (``$JS.API``, ``$JS.<domain>.API`` or a custom import prefix, see :func:`api_prefix`,
without a trailing dot), so a domain or prefix is applied consistently, including consumer create and
``MSG.NEXT`` (wire.md 2.1, trap 19). Builders validate the stream and consumer names they embed, so a
bad name fails here with :class:`~jetstream.errors.InvalidNameError` (a ``ValueError``) instead of
becoming a malformed subject on the wire.

Rule: no I/O; imports only ``jetstream.errors`` and ``protocol.errors``.
"""

from __future__ import annotations

import re

from jetstream.errors import InvalidArgumentError, InvalidNameError
from protocol.errors import BadSubjectError

__all__ = [
    "ACK_PREFIX",
    "FC_PREFIX",
    "DEFAULT_API_PREFIX",
    "MAX_NAME_LEN",
    "api_prefix",
    "validate_name",
    "validate_stream_name",
    "validate_consumer_name",
    "account_info",
    "stream_create",
    "stream_update",
    "stream_info",
    "stream_delete",
    "stream_purge",
    "stream_names",
    "stream_list",
    "stream_msg_get",
    "stream_msg_delete",
    "direct_get",
    "direct_get_last",
    "consumer_create",
    "consumer_create_legacy",
    "consumer_create_durable",
    "consumer_info",
    "consumer_delete",
    "consumer_names",
    "consumer_list",
    "consumer_msg_next",
    "consumer_ack_prefix",
    "has_wildcard",
]

DEFAULT_API_PREFIX = "$JS.API"
# Reply subjects of consumer deliveries (wire.md 2.9; ADR-15): a data message's reply is its ACK
# subject (its metadata, parsed in ``jetstream.ack``), a flow-control request's reply is a $JS.FC
# subject that we answer with an empty message. Neither takes the API prefix or domain.
ACK_PREFIX = "$JS.ACK."
FC_PREFIX = "$JS.FC."
MAX_NAME_LEN = 255  # server JSMaxNameLen, in bytes

# Server isValidAssetName: no whitespace, '.', '*', '>', '/', '\' (wire.md 1.11).
_BAD_NAME_CHAR = re.compile(r"[\s.*>/\\]")
_WHITESPACE = re.compile(r"\s")


def validate_name(name: str, kind: str = "name") -> str:
    """Return ``name`` if it is a valid stream/consumer name, else raise InvalidNameError.

    Valid: a non-empty ``str`` of at most 255 UTF-8 bytes with no whitespace, ``.``, ``*``, ``>``,
    ``/`` or ``\\``.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"{kind} must be a non-empty string, not {name!r}")
    if len(name) > MAX_NAME_LEN or (not name.isascii() and len(name.encode("utf-8")) > MAX_NAME_LEN):
        raise InvalidNameError(f"{kind} is longer than {MAX_NAME_LEN} bytes: {name[:40]!r}...")
    bad = _BAD_NAME_CHAR.search(name)
    if bad is not None:
        raise InvalidNameError(f"{kind} {name!r} contains the invalid character {bad.group()!r}")
    return name


def validate_stream_name(name: str) -> str:
    """Validate a stream name (see :func:`validate_name`). Raises InvalidNameError."""
    return validate_name(name, "stream name")


def validate_consumer_name(name: str) -> str:
    """Validate a consumer or durable name (see :func:`validate_name`). Raises InvalidNameError."""
    return validate_name(name, "consumer name")


def api_prefix(domain: str | None = None, prefix: str | None = None) -> str:
    """The API prefix: ``$JS.API``, ``$JS.<domain>.API`` for a domain, or a custom ``prefix``.

    Raises InvalidArgumentError if both are given or either has whitespace or wildcard tokens.
    """
    if domain and prefix:
        raise InvalidArgumentError("give a JetStream domain or an API prefix, not both")
    if domain:
        if _WHITESPACE.search(domain) or any(t in ("", "*", ">") for t in domain.split(".")):
            raise InvalidArgumentError(f"invalid JetStream domain {domain!r}")
        return f"$JS.{domain}.API"
    if prefix:
        prefix = prefix.rstrip(".")
        if (
            not prefix
            or _WHITESPACE.search(prefix)
            or any(t in ("", "*", ">") for t in prefix.split("."))
        ):
            raise InvalidArgumentError(f"invalid JetStream API prefix {prefix!r}")
        return prefix
    return DEFAULT_API_PREFIX


def has_wildcard(subject: str) -> bool:
    """Whether ``subject`` has a ``*`` or ``>`` token (it cannot then be appended to a create or
    direct-get subject: the server takes such a filter only in the request body)."""
    return any(tok in ("*", ">") for tok in subject.split("."))


def _check_subject(subject: str) -> str:
    # Appended as subject tokens; the connection does the full check on publish.
    if not isinstance(subject, str) or not subject or _WHITESPACE.search(subject):
        raise BadSubjectError(f"invalid subject {subject!r}")
    return subject


# --- account and streams (wire.md 2.2, 2.5) ----------------------------------------------------


def account_info(prefix: str = DEFAULT_API_PREFIX) -> str:
    return f"{prefix}.INFO"


def stream_create(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.CREATE.{validate_stream_name(name)}"


def stream_update(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.UPDATE.{validate_stream_name(name)}"


def stream_info(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.INFO.{validate_stream_name(name)}"


def stream_delete(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.DELETE.{validate_stream_name(name)}"


def stream_purge(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.PURGE.{validate_stream_name(name)}"


def stream_names(prefix: str = DEFAULT_API_PREFIX) -> str:
    return f"{prefix}.STREAM.NAMES"


def stream_list(prefix: str = DEFAULT_API_PREFIX) -> str:
    return f"{prefix}.STREAM.LIST"


def stream_msg_get(prefix: str, name: str) -> str:
    """Leader (read-after-write consistent) get; body ``{"seq"|"last_by_subj"|"next_by_subj"...}``."""
    return f"{prefix}.STREAM.MSG.GET.{validate_stream_name(name)}"


def stream_msg_delete(prefix: str, name: str) -> str:
    return f"{prefix}.STREAM.MSG.DELETE.{validate_stream_name(name)}"


# --- direct get (wire.md 2.6; needs allow_direct) ----------------------------------------------


def direct_get(prefix: str, stream: str) -> str:
    """Direct get with a JSON body (an empty body is rejected by the server)."""
    return f"{prefix}.DIRECT.GET.{validate_stream_name(stream)}"


def direct_get_last(prefix: str, stream: str, subject: str) -> str:
    """Direct get of the last message on ``subject`` (body must be empty). Raises BadSubjectError."""
    return f"{prefix}.DIRECT.GET.{validate_stream_name(stream)}.{_check_subject(subject)}"


# --- consumers (wire.md 2.8, 2.11) -------------------------------------------------------------


def consumer_create(prefix: str, stream: str, name: str, filter_subject: str | None = None) -> str:
    """``CONSUMER.CREATE.<stream>.<name>[.<filter>]`` (server >= 2.9).

    With a single ``filter_subject`` it is appended, and must equal ``config.filter_subject``
    (else the server answers 10131); leave it out for no filter or for ``filter_subjects``.
    """
    subject = f"{prefix}.CONSUMER.CREATE.{validate_stream_name(stream)}.{validate_consumer_name(name)}"
    if filter_subject:
        return f"{subject}.{_check_subject(filter_subject)}"
    return subject


def consumer_create_legacy(prefix: str, stream: str) -> str:
    """Legacy ephemeral create: the server picks the name; the config must have no ``durable_name``."""
    return f"{prefix}.CONSUMER.CREATE.{validate_stream_name(stream)}"


def consumer_create_durable(prefix: str, stream: str, durable: str) -> str:
    """Legacy durable create (``CONSUMER.DURABLE.CREATE``)."""
    return f"{prefix}.CONSUMER.DURABLE.CREATE.{validate_stream_name(stream)}.{validate_consumer_name(durable)}"


def consumer_info(prefix: str, stream: str, consumer: str) -> str:
    return f"{prefix}.CONSUMER.INFO.{validate_stream_name(stream)}.{validate_consumer_name(consumer)}"


def consumer_delete(prefix: str, stream: str, consumer: str) -> str:
    return f"{prefix}.CONSUMER.DELETE.{validate_stream_name(stream)}.{validate_consumer_name(consumer)}"


def consumer_names(prefix: str, stream: str) -> str:
    return f"{prefix}.CONSUMER.NAMES.{validate_stream_name(stream)}"


def consumer_list(prefix: str, stream: str) -> str:
    return f"{prefix}.CONSUMER.LIST.{validate_stream_name(stream)}"


def consumer_msg_next(prefix: str, stream: str, consumer: str) -> str:
    """Pull request subject; body ``{"batch","expires"(ns),"max_bytes","no_wait","idle_heartbeat"}``."""
    return f"{prefix}.CONSUMER.MSG.NEXT.{validate_stream_name(stream)}.{validate_consumer_name(consumer)}"


def consumer_deleted_advisory(stream: str, consumer: str = "*") -> str:
    """The advisory the server publishes when a consumer is deleted (any reason: API, inactivity)."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.DELETED.{stream}.{consumer}"


def consumer_ack_prefix(stream: str, consumer: str) -> str:
    """The start of every v1 (9-token) ACK subject of one consumer: ``$JS.ACK.<stream>.<consumer>.``.

    The server writes this layout unless ``js_ack_fc_v2`` is on (2.14+, >= 11 tokens, ADR-15), so a
    consumer can match its own deliveries with one ``startswith``. Names are not validated here (the
    consumer was created with them).
    """
    return f"{ACK_PREFIX}{stream}.{consumer}."
