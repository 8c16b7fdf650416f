"""Subject and queue-name validation (wire.md 1.11) and inbox names.

A publish subject must be non-empty with no whitespace or control characters and no empty
tokens; a subscribe subject may also hold wildcards (``*`` as a whole token, ``>`` as the last
token). Every check raises :class:`BadSubjectError` (also a ``ValueError``): this is what stops
CRLF injection into the control line.
"""

from __future__ import annotations

import re

from .errors import BadSubjectError
from .nuid import next_nuid
from .wire import INBOX_PREFIX

__all__ = [
    "validate_publish_subject",
    "validate_subscribe_subject",
    "validate_queue",
    "validate_reply_subject",
    "new_inbox",
]

# Whitespace and every ASCII control character (CR, LF, TAB, NUL, ...) plus DEL.
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")


def _check_common(subject: str, what: str) -> list[str]:
    if not isinstance(subject, str):
        raise BadSubjectError(f"{what} must be a str, not {type(subject).__name__}")
    if not subject:
        raise BadSubjectError(f"{what} is empty")
    if _BAD_CHARS.search(subject):
        raise BadSubjectError(f"{what} {subject!r} contains whitespace or a control character")
    tokens = subject.split(".")
    if "" in tokens:
        raise BadSubjectError(f"{what} {subject!r} has an empty token")
    return tokens


def validate_publish_subject(subject: str) -> None:
    """Reject an empty subject, whitespace/control characters, empty tokens and wildcards."""
    tokens = _check_common(subject, "subject")
    if "*" in tokens or ">" in tokens:
        raise BadSubjectError(f"subject {subject!r} has a wildcard; cannot publish to it")


def validate_subscribe_subject(subject: str) -> None:
    """Like publish, but ``*`` tokens anywhere and one ``>`` as the last token are allowed."""
    tokens = _check_common(subject, "subject")
    for i, tok in enumerate(tokens):
        if tok == ">" and i != len(tokens) - 1:
            raise BadSubjectError(f"subject {subject!r}: '>' must be the last token")


def validate_reply_subject(subject: str) -> None:
    """A reply subject follows the publish rules."""
    validate_publish_subject(subject)


def validate_queue(queue: str) -> None:
    if not isinstance(queue, str):
        raise BadSubjectError(f"queue must be a str, not {type(queue).__name__}")
    if not queue:
        raise BadSubjectError("queue group name is empty")
    if _BAD_CHARS.search(queue):
        raise BadSubjectError(f"queue {queue!r} contains whitespace or a control character")


def new_inbox(prefix: str = INBOX_PREFIX) -> str:
    """A fresh, unique inbox subject such as ``_INBOX.<nuid>``."""
    if not prefix.endswith("."):
        prefix += "."
    return prefix + next_nuid()
