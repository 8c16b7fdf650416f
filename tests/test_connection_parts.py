"""The parts of ``protocol.Connection`` in isolation: the state table, the -ERR classifier, the
outbox's ``discard_unsent`` framing and flush, and the one place the state is written."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from protocol import STATUS_NO_RESPONDERS, AuthorizationError, PermissionViolationError, ServerError, StaleConnectionError
from protocol.errors import ErrAction, InvalidTransitionError, classify_server_error, error_from_server_text
from protocol.outbox import Outbox
from protocol.state import TRANSITIONS, ConnectionState, check_transition

ROOT = Path(__file__).resolve().parent.parent
S = ConnectionState


def test_status_codes_are_exported():
    assert STATUS_NO_RESPONDERS == "503"


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(old, new):
    if new in TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(InvalidTransitionError):
            check_transition(old, new)


def test_closed_is_final_and_draining_never_reconnects():
    assert TRANSITIONS[S.CLOSED] == frozenset()
    assert TRANSITIONS[S.DRAINING] == {S.CLOSED}
    assert all(S.CLOSED in TRANSITIONS[s] for s in S if s is not S.CLOSED)


@pytest.mark.parametrize(
    "text, cls, action",
    [
        ("Authorization Violation", AuthorizationError, ErrAction.CLOSE),
        ("User Authentication Expired", AuthorizationError, ErrAction.CLOSE),
        ('Permissions Violation for Publish to "a.b"', PermissionViolationError, ErrAction.ROUTE),
        ("Stale Connection", StaleConnectionError, ErrAction.CLOSE),
        ("Maximum Subscriptions Exceeded", ServerError, ErrAction.KEEP),
        ("Invalid Subject", ServerError, ErrAction.KEEP),
        ("Invalid Publish Subject", ServerError, ErrAction.KEEP),
        ("Unknown Protocol Operation", ServerError, ErrAction.CLOSE),
    ],
)
def test_err_classifier(text, cls, action):
    err, got = classify_server_error(text)
    assert type(err) is cls and got is action and err.text == text
    assert type(error_from_server_text(text)) is cls


def test_permission_violation_fields():
    err = error_from_server_text('Permissions Violation for Subscription to "s.>" using queue "q"')
    assert (err.kind, err.subject, err.queue) == ("subscription", "s.>", "q")
    err = error_from_server_text('Permissions Violation for Publish with Reply of "_INBOX.x"')
    assert (err.kind, err.subject, err.queue) == ("reply", "_INBOX.x", None)


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def writelines(self, parts) -> None:
        self.written.append(b"".join(parts))


async def test_outbox_flushes_once_per_turn_and_only_when_attached():
    ob = Outbox(asyncio.get_running_loop())
    ob.write_now(b"PING\r\n")
    await asyncio.sleep(0)
    assert ob.parts == [b"PING\r\n"]  # no transport: kept (the reconnect buffer)
    t = _Transport()
    ob.transport = t  # type: ignore[assignment]
    ob.write_now(b"SUB a 1\r\n")
    await asyncio.sleep(0)
    assert t.written == [b"PING\r\nSUB a 1\r\n"] and ob.nbytes == 0


async def test_outbox_discard_unsent_keeps_frame_boundaries():
    ob = Outbox(asyncio.get_running_loop())
    ob.parts = [
        b"PUB a _R.1 3\r\n", b"abc", b"\r\n",
        b"HPUB a _R.2 12 15\r\n", b"NATS/1.0\r\n\r\n", b"xyz", b"\r\n",
        b"PUB a _S.1 1\r\n", b"q", b"\r\n",
        b"PING\r\n",
    ]  # fmt: skip
    assert ob.discard_unsent("_R.") == ["_R.1", "_R.2"]
    assert ob.parts == [b"PUB a _S.1 1\r\n", b"q", b"\r\n", b"PING\r\n"]
    assert ob.nbytes == sum(len(p) for p in ob.parts)


def test_state_is_written_in_one_method():
    """``.state = `` appears only in ``Session.set_state`` (and the initial value in __init__)."""
    writes = []
    for path in sorted((ROOT / "protocol").glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        if isinstance(t, ast.Attribute) and t.attr in ("state", "_state"):
                            writes.append(f"{path.name}:{fn.name}")
    assert sorted(writes) == ["session.py:__init__", "session.py:set_state"]
