"""TLS against real servers: upgrade after INFO, tls:// URLs, CA and hostname verification,
client certificates (mutual TLS), the TLS-first handshake, and clear ``TLSError``s.

Certificates are generated per module by ``certs.make_pki`` (SAN IP 127.0.0.1 + DNS localhost).
"""

from __future__ import annotations

import ssl
import time

import pytest

from protocol import ConnectError, NatsError, TLSError, connect

from certs import make_pki
from events_util import kinds_until, roundtrip

pytestmark = pytest.mark.timeout(30)

# A TLS failure must surface at once, not by waiting for a timeout: connects that should fail get
# a long connect_timeout and must fail in a fraction of it (generous for a slow machine).
FAIL_CONNECT_TIMEOUT = 20.0
FAIL_WITHIN = 5.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki-other"), name="other")


@pytest.fixture
def tls_server(server_factory, pki):
    return server_factory(pki.server_tls_block(), jetstream=False)


def _tls_url(srv, host: str = "127.0.0.1") -> str:
    return f"tls://{host}:{srv.port}"


def _is_tls(nc) -> bool:
    transport = nc._transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


async def _tls_fails(url: str, match: str | None = None, **kwargs) -> TLSError:
    kwargs.setdefault("connect_timeout", FAIL_CONNECT_TIMEOUT)
    start = time.monotonic()
    with pytest.raises(TLSError) as info:
        await connect(url, **kwargs)
    assert time.monotonic() - start < FAIL_WITHIN
    if match:
        assert match.lower() in str(info.value).lower(), str(info.value)
    return info.value


# ------------------------------------------------------------------------------------- happy path


async def test_server_requires_tls_upgrade_after_info(tls_server, pki):
    """nats:// URL, server says tls_required in INFO: the client upgrades on the same socket."""
    nc = await connect(tls_server.url, tls_ca=pki.ca_cert)
    try:
        assert nc.server_info.get("tls_required")
        assert _is_tls(nc)
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_tls_url(tls_server, pki):
    nc = await connect(_tls_url(tls_server), tls_ca=pki.ca_cert)
    try:
        assert _is_tls(nc)
        assert nc.connected_url == _tls_url(tls_server)
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_dns_name_localhost_verifies(tls_server, pki):
    nc = await connect(_tls_url(tls_server, "localhost"), tls_ca=pki.ca_cert)
    try:
        assert _is_tls(nc)
    finally:
        await nc.close()


async def test_ssl_context_option(tls_server, pki):
    ctx = ssl.create_default_context(cafile=pki.ca_cert)
    nc = await connect(tls_server.url, tls=ctx)
    try:
        assert _is_tls(nc)
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_tls_reconnects_after_restart(tls_server, pki):
    nc = await connect(_tls_url(tls_server), tls_ca=pki.ca_cert, reconnect_time_wait=0.1, reconnect_jitter_tls=0.05,
                       connect_timeout=1)
    events = nc.events()
    try:
        sub = await nc.subscribe("tls.rc")
        tls_server.restart()
        await kinds_until(events, "reconnected")
        assert _is_tls(nc)
        await nc.publish("tls.rc", b"again")
        assert (await sub.next_msg(timeout=2)).data == b"again"
    finally:
        await nc.close()


# --------------------------------------------------------------------------------- verification


async def test_default_context_rejects_unknown_ca(tls_server):
    """Verification is on by default: a self-made CA is not in the system store."""
    await _tls_fails(tls_server.url, match="certificate")


async def test_wrong_ca_is_rejected(tls_server, other_pki):
    err = await _tls_fails(_tls_url(tls_server), tls_ca=other_pki.ca_cert)
    assert isinstance(err, ConnectError)
    assert "verif" in str(err).lower()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_wrong_hostname_is_rejected(server_factory, pki, host):
    """A certificate from the trusted CA, but issued for another name."""
    srv = server_factory(pki.server_tls_block(cert=pki.wrong_host_cert, key=pki.wrong_host_key), jetstream=False)
    err = await _tls_fails(_tls_url(srv, host), match="mismatch", tls_ca=pki.ca_cert)
    assert "certificate verification failed" in str(err)


async def test_tls_hostname_override(server_factory, pki):
    srv = server_factory(pki.server_tls_block(cert=pki.wrong_host_cert, key=pki.wrong_host_key), jetstream=False)
    nc = await connect(_tls_url(srv), tls_ca=pki.ca_cert, tls_hostname="example.invalid")
    try:
        assert _is_tls(nc)
    finally:
        await nc.close()


async def test_client_wants_tls_server_has_none(server_factory, pki):
    srv = server_factory("", jetstream=False)
    await _tls_fails(_tls_url(srv), match="does not offer", tls_ca=pki.ca_cert)


async def test_unreadable_ca_file(tls_server, tmp_path):
    await _tls_fails(_tls_url(tls_server), match="cannot load", tls_ca=str(tmp_path / "missing.pem"))


async def test_error_message_names_server_not_secrets(tls_server, other_pki):
    err = await _tls_fails(_tls_url(tls_server), tls_ca=other_pki.ca_cert)
    assert f"127.0.0.1:{tls_server.port}" in str(err)


# ------------------------------------------------------------------------------------ mutual TLS


@pytest.fixture
def mtls_server(server_factory, pki):
    return server_factory(pki.server_tls_block(verify=True), jetstream=False)


async def test_mutual_tls(mtls_server, pki):
    nc = await connect(
        _tls_url(mtls_server), tls_ca=pki.ca_cert, tls_cert=pki.client_cert, tls_key=pki.client_key
    )
    try:
        assert nc.server_info.get("tls_verify")
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_mutual_tls_without_client_cert(mtls_server, pki):
    """TLS 1.3: the server rejects the missing certificate after the client finished its side of
    the handshake; the failure must still surface as a TLSError, quickly."""
    await _tls_fails(_tls_url(mtls_server), tls_ca=pki.ca_cert)


async def test_mutual_tls_with_cert_from_other_ca(mtls_server, pki, other_pki):
    await _tls_fails(
        _tls_url(mtls_server), tls_ca=pki.ca_cert, tls_cert=other_pki.client_cert, tls_key=other_pki.client_key
    )


# ------------------------------------------------------------------------------------ TLS first


@pytest.fixture
def tls_first_server(server_factory, pki):
    return server_factory(pki.server_tls_block(handshake_first=True), jetstream=False)


async def test_tls_handshake_first(tls_first_server, pki):
    nc = await connect(_tls_url(tls_first_server), tls_ca=pki.ca_cert, tls_handshake_first=True)
    try:
        assert _is_tls(nc)
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_tls_handshake_first_reconnects(tls_first_server, pki):
    nc = await connect(_tls_url(tls_first_server), tls_ca=pki.ca_cert, tls_handshake_first=True,
                       reconnect_time_wait=0.1, reconnect_jitter_tls=0.05, connect_timeout=1)
    events = nc.events()
    try:
        tls_first_server.restart()
        await kinds_until(events, "reconnected")
        await roundtrip(nc, "tls.rt")
    finally:
        await nc.close()


async def test_tls_first_server_without_tls_first_client(tls_first_server, pki):
    """The server waits for a ClientHello and never sends a plaintext INFO: the client must give up
    after connect_timeout rather than hang."""
    start = time.monotonic()
    with pytest.raises(NatsError):
        await connect(_tls_url(tls_first_server), tls_ca=pki.ca_cert, connect_timeout=0.5)
    assert time.monotonic() - start < 3


async def test_tls_first_client_against_plain_tls_server(tls_server, pki):
    await _tls_fails(_tls_url(tls_server), tls_ca=pki.ca_cert, tls_handshake_first=True)


async def test_tls_first_client_against_wrong_ca(tls_first_server, other_pki):
    await _tls_fails(_tls_url(tls_first_server), match="verif", tls_ca=other_pki.ca_cert, tls_handshake_first=True)
