"""What a conformance check is: ``Group`` and ``Check`` declarations, the ``Target`` under test,
the ``Context`` a check runs with, and the ``Result`` it produces.

Rule: this module owns the vocabulary shared by every group (core here; JetStream and object
store groups live in their own packages and build on it) and nothing that touches the wire
itself: connections come from ``Context.connect`` (a :class:`~protocol.Connection` traced into
the run's recorder) and ``probe.open_probe(ctx)`` (a raw socket).

A check is ``async def fn(ctx) -> str | None`` (an optional note shown on a pass). It fails by
raising :class:`CheckFailed` whose text names the deviation (``ctx.expect(cond, text)`` is the
short form), and skips with :class:`CheckSkipped` (``ctx.skip(reason)``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

from ..connection import Connection, connect
from ..errors import NatsError
from ..nuid import next_nuid
from ..options import parse_server_url
from ..trace import Tracer, TraceRecorder

__all__ = ["Check", "CheckFailed", "CheckSkipped", "Context", "Group", "Result", "Target"]

PASS, FAIL, SKIP = "pass", "fail", "skip"
DEFAULT_CHECK_TIMEOUT = 15.0
EVIDENCE_PREVIEW = 160  # payload bytes shown (as text) with each frame of the evidence


class CheckFailed(NatsError):
    """The server deviated: the text names how."""


class CheckSkipped(NatsError):
    """The check does not apply to this server (a feature not announced, read-only mode...)."""


CheckFn = Callable[["Context"], Awaitable[Optional[str]]]


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    doc: str
    fn: CheckFn
    required: bool = True
    timeout: float = DEFAULT_CHECK_TIMEOUT

    @property
    def id(self) -> str:
        return f"{self.group}.{self.name}"


class Group:
    """A named list of checks; ``@group.check(name, doc)`` declares one, in run order.

    ``precondition(ctx)`` may return a reason to skip the whole group (JetStream not enabled).
    """

    def __init__(self, name: str, doc: str, precondition: Optional[Callable[["Context"], Awaitable[Optional[str]]]] = None) -> None:
        self.name = name
        self.doc = doc
        self.precondition = precondition
        self.checks: list[Check] = []

    def check(self, name: str, doc: str, *, required: bool = True, timeout: float = DEFAULT_CHECK_TIMEOUT) -> Callable[[CheckFn], CheckFn]:
        def register(fn: CheckFn) -> CheckFn:
            if any(c.name == name for c in self.checks):
                raise ValueError(f"check {self.name}.{name} declared twice")
            self.checks.append(Check(self.name, name, doc, fn, required, timeout))
            return fn

        return register

    def __repr__(self) -> str:
        return f"<Group {self.name} checks={len(self.checks)}>"


@dataclass
class Target:
    """The server under test and how to log in; ``bucket``/``read_only`` for the object-store lint."""

    url: str
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    token: Optional[str] = field(default=None, repr=False)
    creds: Optional[str] = field(default=None, repr=False)
    nkey_seed: Optional[str] = field(default=None, repr=False)
    tls_ca: Optional[str] = None
    bucket: Optional[str] = None
    read_only: bool = False

    def connect_kwargs(self) -> dict[str, Any]:
        kw = {k: getattr(self, k) for k in ("user", "password", "token", "creds", "nkey_seed", "tls_ca")}
        return {k: v for k, v in kw.items() if v}

    @property
    def safe_url(self) -> str:
        return parse_server_url(self.url.split(",")[0]).url


@dataclass
class Result:
    check: Check
    status: str
    detail: str = ""
    evidence: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.check.id, "group": self.check.group, "name": self.check.name, "doc": self.check.doc,
            "required": self.check.required, "status": self.status, "detail": self.detail,
            "evidence": self.evidence, "seconds": round(self.seconds, 3),
        }


class Context:
    """What a check runs with. Everything opened through it is closed after the check."""

    def __init__(self, target: Target, recorder: TraceRecorder) -> None:
        self.target = target
        self.recorder = recorder
        self.info: dict[str, Any] = {}  # the INFO of the latest connection
        self._cleanups: list[Callable[[], Awaitable[Any]]] = []

    def unique(self, prefix: str) -> str:
        """A fresh name for scratch streams, buckets and subjects."""
        return f"{prefix}_{next_nuid()[-10:]}"

    def on_cleanup(self, fn: Callable[[], Awaitable[Any]]) -> None:
        self._cleanups.append(fn)

    async def connect(self, **kwargs: Any) -> Connection:
        """A traced client connection (no reconnect: a dropped connection is a finding)."""
        opts: dict[str, Any] = {"name": "natsobj-conformance", "allow_reconnect": False, "connect_timeout": 5.0}
        opts.update(self.target.connect_kwargs())
        opts.update(kwargs)
        nc = await connect(self.target.url, trace=self.recorder_tracer(), **opts)
        self.info = nc.server_info
        self.on_cleanup(nc.close)
        return nc

    def recorder_tracer(self) -> Tracer:
        """A tracer into the run's recorder, for connections this module does not open."""
        return Tracer(self.recorder, preview=EVIDENCE_PREVIEW, text_only=True)

    async def cleanup(self) -> None:
        fns, self._cleanups = self._cleanups[::-1], []
        for fn in fns:
            try:
                await fn()
            except (NatsError, OSError):
                pass

    @staticmethod
    def expect(cond: Any, deviation: str) -> None:
        if not cond:
            raise CheckFailed(deviation)

    @staticmethod
    def skip(reason: str) -> None:
        raise CheckSkipped(reason)

    def replace_target(self, **changes: Any) -> Target:
        return dataclasses.replace(self.target, **changes)
