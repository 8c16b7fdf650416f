"""Subject and queue validation (wire.md 1.11): publish vs subscribe rules, inbox names."""

from __future__ import annotations

import pytest

from protocol.errors import BadSubjectError, NatsError
from protocol.subjects import (
    new_inbox,
    validate_publish_subject,
    validate_queue,
    validate_reply_subject,
    validate_subscribe_subject,
)

VALID_LITERAL = [
    "foo",
    "foo.bar",
    "foo.bar.baz.qux",
    "_INBOX.abc.1",
    "$JS.API.STREAM.INFO.S",
    "$O.bucket.C.nuid",
    "foo*.bar",  # '*' inside a token is not a wildcard
    "foo>.bar",
    "a.*b.c>",
    "UPPER.lower.MiXeD",
    "ünïcödé.€",
    "a-b_c~d/e\\f",
    "1.2.3",
    "x" * 1000,
]

WILDCARDS = ["*", ">", "foo.*", "foo.>", "*.bar", "foo.*.baz", "*.*.>", "foo.*.>"]

ALWAYS_BAD = [
    "",
    ".",
    "..",
    ".foo",
    "foo.",
    "foo..bar",
    "foo bar",
    " foo",
    "foo ",
    "foo\tbar",
    "foo\rbar",
    "foo\nbar",
    "foo\r\nPUB x 1",
    "foo\x00bar",
    "foo\x0cbar",
    "foo\x0bbar",
    "foo\x7fbar",
    "foo\x1b",
    "foo. .bar",
]


@pytest.mark.parametrize("subject", VALID_LITERAL)
def test_literal_subjects_valid_everywhere(subject):
    validate_publish_subject(subject)
    validate_subscribe_subject(subject)
    validate_reply_subject(subject)


@pytest.mark.parametrize("subject", WILDCARDS)
def test_wildcards_only_for_subscribe(subject):
    validate_subscribe_subject(subject)
    with pytest.raises(BadSubjectError):
        validate_publish_subject(subject)
    with pytest.raises(BadSubjectError):
        validate_reply_subject(subject)


@pytest.mark.parametrize("subject", [">.foo", "foo.>.bar", ">.>", "a.>.*", "foo.>.>"])
def test_full_wildcard_must_be_last(subject):
    with pytest.raises(BadSubjectError):
        validate_subscribe_subject(subject)
    with pytest.raises(BadSubjectError):
        validate_publish_subject(subject)


@pytest.mark.parametrize("subject", ALWAYS_BAD)
def test_bad_subjects_rejected_everywhere(subject):
    for check in (validate_publish_subject, validate_subscribe_subject, validate_reply_subject):
        with pytest.raises(BadSubjectError):
            check(subject)


@pytest.mark.parametrize("subject", [None, b"foo", 1, ["foo"]])
def test_non_str_subject(subject):
    with pytest.raises(BadSubjectError):
        validate_publish_subject(subject)
    with pytest.raises(BadSubjectError):
        validate_subscribe_subject(subject)


@pytest.mark.parametrize("queue", ["workers", "q1", "group.with.dots", "Q-_~*>", "ü"])
def test_valid_queues(queue):
    validate_queue(queue)


@pytest.mark.parametrize("queue", ["", "a b", "a\tb", "a\rb", "a\nb", " q", "q ", "\x00", None, b"q"])
def test_invalid_queues(queue):
    with pytest.raises(BadSubjectError):
        validate_queue(queue)


def test_error_is_value_error_and_nats_error():
    with pytest.raises(ValueError):
        validate_publish_subject("a b")
    with pytest.raises(NatsError):
        validate_queue("")


def test_new_inbox():
    a, b = new_inbox(), new_inbox()
    assert a != b
    assert a.startswith("_INBOX.") and len(a) == len("_INBOX.") + 22
    validate_publish_subject(a)
    assert new_inbox("_MY").startswith("_MY.")
    assert new_inbox("custom.").startswith("custom.") and ".." not in new_inbox("custom.")
