"""Connection options and the server pool.

``ConnectOptions`` gathers what ``protocol.connect`` accepts (one object instead of a
37-argument ``connect``); ``ServerPool`` holds the servers given by the user and those
discovered from INFO ``connect_urls``. Credentials are never part of a ``repr``.
"""

from __future__ import annotations

import dataclasses
import random
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlsplit

from .errors import InvalidOptionError, NatsError
from .wire import INBOX_PREFIX

__all__ = ["ConnectOptions", "ServerAddr", "ServerPool", "parse_server_url"]

DEFAULT_PORT = 4222
# Below this a JetStream API reply (a few hundred bytes of JSON) would not fit.
_MIN_INBOUND_FRAME = 64 * 1024


class ServerAddr:
    """One server of the pool. ``implicit`` marks servers learned from INFO."""

    __slots__ = (
        "scheme", "host", "port", "user", "password", "token", "implicit",
        "reconnects", "last_attempt", "last_auth_error", "connected_at",
    )

    def __init__(self, scheme: str, host: str, port: int, user: str = "", password: str = "", token: str = "", implicit: bool = False) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.token = token
        self.implicit = implicit
        self.reconnects = 0
        self.last_attempt = 0.0
        # Text of the last auth error this server gave (nats.go lastErr): the same one twice in
        # a row means retrying is pointless.
        self.last_auth_error: Optional[str] = None
        self.connected_at = 0.0  # monotonic time of the last successful handshake

    @property
    def tls(self) -> bool:
        return self.scheme == "tls"

    @property
    def url(self) -> str:
        """The URL without credentials (safe to log)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __repr__(self) -> str:
        return f"ServerAddr({self.url!r}, implicit={self.implicit})"


def parse_server_url(url: str, implicit: bool = False, default_scheme: str = "nats") -> ServerAddr:
    """Parse ``nats://[user:pass@|token@]host[:port]``, ``tls://...`` or a bare ``host:port``."""
    if "://" not in url:
        url = f"{default_scheme}://{url}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("nats", "tls"):
        raise NatsError(f"unsupported URL scheme {scheme!r} (use nats:// or tls://)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        # ``from None``: the parser's own message may quote the netloc, credentials included.
        raise NatsError(f"invalid port in server URL for host {parts.hostname!r}") from None
    host = parts.hostname or "127.0.0.1"
    user = unquote(parts.username) if parts.username else ""
    password = unquote(parts.password) if parts.password else ""
    token = ""
    if user and not password and parts.password is None:
        token, user = user, ""
    return ServerAddr(scheme, host, port, user, password, token, implicit)


class ServerPool:
    """Servers to try, in order, with discovery from INFO ``connect_urls``."""

    def __init__(self, urls: list[str], randomize: bool = True) -> None:
        if not urls:
            urls = ["nats://127.0.0.1:4222"]
        self.servers = [parse_server_url(u) for u in urls]
        self.randomize = randomize
        if randomize and len(self.servers) > 1:
            random.shuffle(self.servers)
        self.current: Optional[ServerAddr] = None

    def __len__(self) -> int:
        return len(self.servers)

    def add_discovered(self, connect_urls: list[str]) -> list[ServerAddr]:
        """Add unseen servers from INFO; drop implicit ones no longer listed. Returns the added."""
        scheme = self.current.scheme if self.current else "nats"
        seen = {s.key for s in self.servers}
        wanted = set()
        added = []
        for raw in connect_urls or []:
            try:
                addr = parse_server_url(raw, implicit=True, default_scheme=scheme)
            except NatsError:
                continue
            wanted.add(addr.key)
            if addr.key not in seen:
                seen.add(addr.key)
                added.append(addr)
        if self.randomize:
            random.shuffle(added)
        # A discovered server has no credentials of its own: use those of the first server the
        # user gave with credentials in its URL (the same cluster, the same accounts).
        donor = next((s for s in self.servers if not s.implicit and (s.user or s.token)), None)
        if donor is not None:
            for addr in added:
                addr.user, addr.password, addr.token = donor.user, donor.password, donor.token
        self.servers.extend(added)
        self.servers = [
            s for s in self.servers if not s.implicit or s.key in wanted or s is self.current
        ]
        return added

    def next_candidates(self) -> list[ServerAddr]:
        """Servers in the order to try them: the current one last."""
        rest = [s for s in self.servers if s is not self.current]
        if self.current is not None and self.current in self.servers:
            rest.append(self.current)
        return rest


_SECRET_FIELDS = frozenset({"password", "token", "nkey_seed", "creds", "tls_key"})


def _safe_url(url: str) -> str:
    try:
        return parse_server_url(url).url
    except Exception:  # noqa: BLE001 - repr must never fail, nor echo a malformed URL
        return "<invalid url>"


@dataclass(repr=False)
class ConnectOptions:
    """Everything ``connect`` accepts. Secrets are excluded from ``repr``: passwords, tokens,
    seeds, the creds path and the credentials inside server URLs are never shown."""

    servers: list[str] = field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    name: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    token: Optional[str] = field(default=None, repr=False)
    nkey_seed: Optional[str] = field(default=None, repr=False)  # seed string or path of a seed file
    creds: Optional[str] = field(default=None, repr=False)  # path of a .creds file
    # TLS: an SSLContext, True for the default context, or None/False; tls:// URLs imply TLS.
    tls: Any = None
    tls_ca: Optional[str] = None
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = field(default=None, repr=False)
    tls_hostname: Optional[str] = None
    tls_handshake_first: bool = False
    verbose: bool = False
    pedantic: bool = False
    echo: bool = True
    no_responders: bool = True
    connect_timeout: float = 2.0
    ping_interval: float = 120.0
    max_pings_outstanding: int = 2
    allow_reconnect: bool = True
    max_reconnect_attempts: int = 60  # per server; -1 = forever
    reconnect_time_wait: float = 2.0
    reconnect_jitter: float = 0.1
    reconnect_jitter_tls: float = 1.0
    reconnect_buf_size: int = 8 * 1024 * 1024
    # The largest MSG/HMSG (header + payload) accepted from the server; a larger announced size is
    # a ProtocolError before any of it is buffered. The server's INFO max_payload may lower the
    # effective cap (never below half of this), never raise it: see protocol.handshake.
    max_inbound_frame: int = 64 * 1024 * 1024
    dont_randomize: bool = False
    pending_msgs_limit: int = 512 * 1024
    pending_bytes_limit: int = 64 * 1024 * 1024
    inbox_prefix: str = INBOX_PREFIX
    drain_timeout: float = 30.0
    flush_timeout: float = 10.0
    # On an INFO with ``ldm`` (lame duck mode), move to another known server before being evicted.
    lame_duck_leave: bool = True
    # Status callbacks (the events() iterator is the primary interface).
    error_cb: Optional[Callable[..., Any]] = field(default=None, repr=False)
    disconnected_cb: Optional[Callable[..., Any]] = field(default=None, repr=False)
    reconnected_cb: Optional[Callable[..., Any]] = field(default=None, repr=False)
    closed_cb: Optional[Callable[..., Any]] = field(default=None, repr=False)
    lame_duck_cb: Optional[Callable[..., Any]] = field(default=None, repr=False)
    # Wire trace (protocol.trace): called with every TraceEvent in and out; None and $NATS_TRACE
    # unset = off. trace_preview: hex/ASCII preview of the first N payload bytes (None: $NATS_TRACE_PREVIEW).
    trace: Optional[Callable[..., Any]] = field(default=None, repr=False)
    trace_preview: Optional[int] = None

    def __post_init__(self) -> None:
        if isinstance(self.servers, str):
            self.servers = [u.strip() for u in self.servers.split(",") if u.strip()]
        mif = self.max_inbound_frame
        if type(mif) is not int or mif < _MIN_INBOUND_FRAME:
            raise InvalidOptionError(f"max_inbound_frame must be an int of at least {_MIN_INBOUND_FRAME} bytes, not {mif!r}")

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS or f.name.endswith("_cb") or f.name == "trace":
                if value:
                    parts.append(f"{f.name}=<set>")
                continue
            if f.name == "servers":
                value = [_safe_url(u) for u in value]
            parts.append(f"{f.name}={value!r}")
        return f"ConnectOptions({', '.join(parts)})"

    __str__ = __repr__

    def replace(self, **changes: Any) -> "ConnectOptions":
        return dataclasses.replace(self, **changes)

    def wants_tls(self) -> bool:
        return bool(self.tls) or bool(self.tls_ca or self.tls_cert) or self.tls_handshake_first

    def ssl_context(self) -> ssl.SSLContext:
        """The SSL context to use: the given one, or a verifying default with CA/cert files."""
        if isinstance(self.tls, ssl.SSLContext):
            return self.tls
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca)
        if self.tls_cert:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx
