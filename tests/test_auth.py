"""Authentication against real servers: user/password, token, nkey, JWT ``.creds`` (operator mode).

Every failure must be an ``AuthorizationError`` raised at once (no reconnect storm), and no secret
may leak into a ``repr``/``str`` of the connection, its options, an exception or a status event.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import pytest

from protocol import (
    AuthorizationError,
    ConnectOptions,
    MissingDependencyError,
    NatsError,
    connect,
)
from protocol.auth import auth_fields, load_seed, parse_creds

from events_util import kinds_until, roundtrip
from jwt_util import NKey, account_jwt, creds, operator_config, user_jwt

pytestmark = pytest.mark.timeout(30)

# An auth failure must be reported at once, not by waiting for a timeout: connects that should
# fail get a long connect_timeout, and must fail in a fraction of it (a generous bound, so a slow
# machine does not matter; waiting for the timeout would).
FAIL_CONNECT_TIMEOUT = 20.0
FAIL_WITHIN = 5.0

PASSWORD = "pw-Zq8#s3cret"
TOKEN = "tok-Vx71secret"


def _chain(err: BaseException | None) -> Iterable[BaseException]:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _texts(*objs: Any) -> str:
    out = []
    for obj in objs:
        if isinstance(obj, BaseException):
            for e in _chain(obj):
                out += [repr(e), str(e), repr(e.args)]
        else:
            out += [repr(obj), str(obj)]
    return "\n".join(out)


def _assert_no_secret(text: str, secrets: Iterable[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"secret leaked: {secret[:4]}... found in {text[:300]!r}"


async def _fails_fast(url: str, **kwargs: Any) -> AuthorizationError:
    kwargs.setdefault("connect_timeout", FAIL_CONNECT_TIMEOUT)
    kwargs.setdefault("reconnect_time_wait", FAIL_CONNECT_TIMEOUT)
    start = time.monotonic()
    with pytest.raises(AuthorizationError) as info:
        await connect(url, **kwargs)
    assert time.monotonic() - start < FAIL_WITHIN
    return info.value


# ---------------------------------------------------------------------------------- user/password

USER_CONF = f'authorization {{ users: [ {{ user: alice, password: "{PASSWORD}" }} ] }}'


@pytest.fixture
def userpass_server(server_factory):
    return server_factory(USER_CONF, jetstream=False)


async def test_user_password_options(userpass_server):
    nc = await connect(userpass_server.url, user="alice", password=PASSWORD)
    try:
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_user_password_in_url(userpass_server):
    url = f"nats://alice:{PASSWORD.replace('#', '%23')}@127.0.0.1:{userpass_server.port}"
    nc = await connect(url)
    try:
        await roundtrip(nc, "auth.rt")
        assert nc.connected_url == f"nats://127.0.0.1:{userpass_server.port}"
    finally:
        await nc.close()


async def test_url_credentials_win_over_options(userpass_server):
    url = f"nats://alice:{PASSWORD.replace('#', '%23')}@127.0.0.1:{userpass_server.port}"
    nc = await connect(url, user="alice", password="wrong")
    await nc.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user": "alice", "password": "nope"},
        {"user": "mallory", "password": PASSWORD},
        {},  # no credentials at all
    ],
)
async def test_wrong_user_password_fails_fast(userpass_server, kwargs):
    err = await _fails_fast(userpass_server.url, **kwargs)
    assert "authorization violation" in str(err).lower()


async def test_wrong_password_in_url_fails_fast(userpass_server):
    await _fails_fast(f"nats://alice:nope@127.0.0.1:{userpass_server.port}")


async def test_auth_error_with_several_servers_is_still_fast(userpass_server, server_factory):
    other = server_factory(USER_CONF, jetstream=False)
    err = await _fails_fast(f"{userpass_server.url},{other.url}", user="alice", password="bad")
    assert isinstance(err, AuthorizationError)


# ------------------------------------------------------------------------------------------ token


@pytest.fixture
def token_server(server_factory):
    return server_factory(f'authorization {{ token: "{TOKEN}" }}', jetstream=False)


async def test_token_option(token_server):
    nc = await connect(token_server.url, token=TOKEN)
    try:
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_token_in_url(token_server):
    nc = await connect(f"nats://{TOKEN}@127.0.0.1:{token_server.port}")
    try:
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_wrong_token_fails_fast(token_server):
    await _fails_fast(token_server.url, token="tok-wrong")
    await _fails_fast(f"nats://tok-wrong@127.0.0.1:{token_server.port}")


# ------------------------------------------------------------------------------------------- nkey


@pytest.fixture
def nkey_user():
    return NKey.new("user")


@pytest.fixture
def nkey_server(server_factory, nkey_user):
    return server_factory(f"authorization {{ users: [ {{ nkey: {nkey_user.public} }} ] }}", jetstream=False)


async def test_nkey_seed_string(nkey_server, nkey_user):
    nc = await connect(nkey_server.url, nkey_seed=nkey_user.seed)
    try:
        assert nc.server_info.get("nonce")
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


@pytest.mark.parametrize("layout", ["bare", "decorated", "crlf"])
async def test_nkey_seed_file(nkey_server, nkey_user, tmp_path, layout):
    path = tmp_path / "user.nk"
    if layout == "bare":
        path.write_text(nkey_user.seed + "\n")
    else:
        text = f"-----BEGIN USER NKEY SEED-----\n{nkey_user.seed}\n------END USER NKEY SEED------\n"
        path.write_text(text if layout == "decorated" else text.replace("\n", "\r\n"))
    nc = await connect(nkey_server.url, nkey_seed=str(path))
    try:
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_unknown_nkey_fails_fast(nkey_server):
    await _fails_fast(nkey_server.url, nkey_seed=NKey.new("user").seed)


async def test_invalid_seed_is_refused_without_echo(nkey_server):
    bogus = "SUAAAAAAAAbogusbogusbogus"
    with pytest.raises(NatsError) as info:
        await connect(nkey_server.url, nkey_seed=bogus, connect_timeout=2)
    _assert_no_secret(_texts(info.value), [bogus])


async def test_seed_path_that_does_not_exist(nkey_server, tmp_path):
    with pytest.raises(NatsError, match="neither an nkey seed nor"):
        await connect(nkey_server.url, nkey_seed=str(tmp_path / "missing.nk"))


def test_signature_is_raw_url_base64_over_nonce_ascii(nkey_user):
    import base64

    import nkeys

    nonce = "nz66OcUh6mBazTg"
    fields = auth_fields(user=None, password=None, token=None, nkey_seed=nkey_user.seed, creds=None, nonce=nonce)
    assert fields["nkey"] == nkey_user.public
    sig = fields["sig"]
    assert "=" not in sig and "+" not in sig and "/" not in sig
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    nkeys.from_seed(nkey_user.seed.encode()).verify(nonce.encode("ascii"), raw)


async def test_nkey_without_nonce_is_refused():
    with pytest.raises(AuthorizationError, match="nonce"):
        auth_fields(user=None, password=None, token=None, nkey_seed=NKey.new("user").seed, creds=None, nonce=None)


# ------------------------------------------------------------------------------------ JWT / creds


class Operator:
    """An operator, a system account and one regular account, with a config for the server."""

    def __init__(self) -> None:
        self.op = NKey.new("operator")
        self.sys = NKey.new("account")
        self.acc = NKey.new("account")
        self.config = operator_config(
            self.op,
            [(self.acc, account_jwt(self.op, self.acc, jetstream=True)), (self.sys, account_jwt(self.op, self.sys, "SYS"))],
            system_account=self.sys,
        )

    def user_creds(self, path: Path, account: NKey | None = None, **kw: Any) -> tuple[Path, NKey, str]:
        usr = NKey.new("user")
        jwt = user_jwt(usr, account or self.acc, **kw)
        path.write_text(creds(jwt, usr.seed))
        return path, usr, jwt


@pytest.fixture
def operator():
    return Operator()


@pytest.fixture
def operator_server(server_factory, operator):
    return server_factory(operator.config, jetstream=False)


async def test_creds_file(operator_server, operator, tmp_path):
    path, _, _ = operator.user_creds(tmp_path / "user.creds")
    nc = await connect(operator_server.url, creds=str(path))
    try:
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_creds_file_with_crlf(operator_server, operator, tmp_path):
    path, _, _ = operator.user_creds(tmp_path / "user.creds")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    nc = await connect(operator_server.url, creds=str(path))
    await nc.close()


async def test_creds_of_unknown_account_fails_fast(operator_server, operator, tmp_path):
    path, _, _ = operator.user_creds(tmp_path / "user.creds", account=NKey.new("account"))
    await _fails_fast(operator_server.url, creds=str(path))


async def test_creds_with_wrong_seed_fails_fast(operator_server, operator, tmp_path):
    path, _, jwt = operator.user_creds(tmp_path / "user.creds")
    path.write_text(creds(jwt, NKey.new("user").seed))  # the JWT's user, someone else's seed
    await _fails_fast(operator_server.url, creds=str(path))


async def test_expired_user_jwt_fails_fast(operator_server, operator, tmp_path):
    path, _, _ = operator.user_creds(tmp_path / "user.creds", expires=int(time.time()) - 60)
    await _fails_fast(operator_server.url, creds=str(path))


async def test_missing_creds_file(operator_server, tmp_path):
    with pytest.raises(NatsError, match="cannot read credentials file"):
        await connect(operator_server.url, creds=str(tmp_path / "nope.creds"))


async def test_garbage_creds_file(operator_server, tmp_path):
    path = tmp_path / "bad.creds"
    path.write_text("hello\n")
    with pytest.raises(NatsError, match="no user JWT"):
        await connect(operator_server.url, creds=str(path))


async def test_creds_resigned_after_reconnect(operator_server, operator, tmp_path):
    """A restarted server sends a new nonce: the reconnect must sign it again."""
    path, _, _ = operator.user_creds(tmp_path / "user.creds")
    nc = await connect(operator_server.url, creds=str(path), reconnect_time_wait=0.1, connect_timeout=1)
    events = nc.events()
    try:
        assert nc.server_info["nonce"]
        operator_server.restart()
        kinds = await kinds_until(events, "reconnected")
        assert "disconnected" in kinds
        await roundtrip(nc, "auth.rt")
    finally:
        await nc.close()


async def test_user_jwt_expiring_while_connected_closes_without_storm(operator_server, operator, tmp_path):
    """The server drops the client when its JWT expires; every reconnect then fails with the same
    auth error, so the client must give up after the second one instead of retrying 60 times."""
    path, _, _ = operator.user_creds(tmp_path / "user.creds", expires=int(time.time()) + 2)
    errors: list[BaseException] = []
    nc = await connect(
        operator_server.url,
        creds=str(path),
        reconnect_time_wait=0.1,
        connect_timeout=1,
        error_cb=errors.append,
    )
    events = nc.events()
    kinds = await kinds_until(events, None)
    assert kinds[0] == "error" and kinds[1] == "disconnected" and kinds[-1] == "closed"
    # The server may accept one reconnect within the JWT's last second, then expire it again.
    assert kinds.count("reconnected") <= 1, kinds
    assert nc.is_closed
    assert isinstance(nc.last_error, AuthorizationError)
    assert "expired" in str(errors[0]).lower()
    assert len(errors) <= 3, errors


# ----------------------------------------------------------------------------- missing dependency


@pytest.fixture
def no_nkeys(monkeypatch):
    monkeypatch.setitem(sys.modules, "nkeys", None)  # `import nkeys` now raises ImportError


async def test_nkey_without_nkeys_package(no_nkeys, nkey_user):
    with pytest.raises(MissingDependencyError) as info:
        await connect("nats://127.0.0.1:1", nkey_seed=nkey_user.seed)
    assert "nkeys" in str(info.value) and "natsobj[nkeys]" in str(info.value)
    assert isinstance(info.value, ImportError)
    _assert_no_secret(_texts(info.value), [nkey_user.seed])


async def test_creds_without_nkeys_package(no_nkeys, tmp_path):
    op = Operator()
    path, usr, jwt = op.user_creds(tmp_path / "u.creds")
    with pytest.raises(MissingDependencyError, match=r"natsobj\[nkeys\]"):
        await connect("nats://127.0.0.1:1", creds=str(path))


async def test_user_password_needs_no_nkeys(no_nkeys, userpass_server):
    nc = await connect(userpass_server.url, user="alice", password=PASSWORD)
    await nc.close()


# ---------------------------------------------------------------------------------- parsing units


def test_parse_creds_rejects_half_file():
    u = NKey.new("user")
    jwt = user_jwt(u, NKey.new("account"))
    assert parse_creds(creds(jwt, u.seed)) == (jwt, u.seed)
    with pytest.raises(NatsError):
        parse_creds(f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n")


def test_load_seed_variants(tmp_path):
    u = NKey.new("user")
    assert load_seed(u.seed) == u.seed
    assert load_seed(f"  {u.seed}\n") == u.seed
    p = tmp_path / "Seeds.nk"  # a relative-looking name starting with "S" is still a path
    p.write_text(f"# comment\n{u.seed}\n")
    assert load_seed(str(p)) == u.seed
    empty = tmp_path / "empty.nk"
    empty.write_text("nothing here\n")
    with pytest.raises(NatsError, match="no seed"):
        load_seed(str(empty))


# ------------------------------------------------------------------------------------ no leaking


async def _leak_check_case(url: str, good: dict[str, Any], bad: dict[str, Any], secrets: list[str], caplog,
                           bad_url: str | None = None) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    # Wrong secrets: the exception and its chain.
    with pytest.raises(NatsError) as info:
        await connect(bad_url or url, connect_timeout=2, **bad)
    texts.append(_texts(info.value))
    texts.append(_texts(ConnectOptions(servers=[bad_url or url], **bad)))
    # Right secrets: the connection, its options, its events, the errors it reports.
    errors: list[BaseException] = []
    nc = await connect(url, connect_timeout=2, error_cb=errors.append, reconnect_time_wait=0.1, **good)
    events = nc.events()
    texts.append(_texts(nc, nc.options, nc.servers, nc.discovered_servers, nc.connected_url, nc._pool.servers))
    await roundtrip(nc, "auth.rt")
    await nc.close()
    seen = [ev async for ev in events]
    assert seen and seen[-1].kind == "closed"
    texts.append(_texts(nc, *seen, *[ev.error for ev in seen if ev.error], *errors))
    texts.append(caplog.text)
    _assert_no_secret("\n".join(texts), secrets)


async def test_no_secret_in_repr_password(userpass_server, caplog):
    await _leak_check_case(
        userpass_server.url,
        {"user": "alice", "password": PASSWORD},
        {"user": "alice", "password": PASSWORD + "x"},
        [PASSWORD],
        caplog,
    )
    # URL form: wrong then right credentials inside the URL.
    quoted = PASSWORD.replace("#", "%23")
    url = f"nats://alice:{quoted}@127.0.0.1:{userpass_server.port}"
    bad_url = f"nats://alice:{quoted}x@127.0.0.1:{userpass_server.port}"
    await _leak_check_case(url, {}, {}, [PASSWORD, quoted], caplog, bad_url=bad_url)


async def test_no_secret_in_repr_token(token_server, caplog):
    await _leak_check_case(token_server.url, {"token": TOKEN}, {"token": TOKEN + "x"}, [TOKEN], caplog)
    port = token_server.port
    await _leak_check_case(f"nats://{TOKEN}@127.0.0.1:{port}", {}, {}, [TOKEN], caplog,
                           bad_url=f"nats://{TOKEN}x@127.0.0.1:{port}")


async def test_no_secret_in_repr_nkey(nkey_server, nkey_user, caplog):
    other = NKey.new("user")
    await _leak_check_case(
        nkey_server.url, {"nkey_seed": nkey_user.seed}, {"nkey_seed": other.seed}, [nkey_user.seed, other.seed], caplog
    )


async def test_no_secret_in_repr_creds(operator_server, operator, tmp_path, caplog):
    good, _, good_jwt = operator.user_creds(tmp_path / "good.creds")
    bad, bad_usr, bad_jwt = operator.user_creds(tmp_path / "bad.creds", account=NKey.new("account"))
    good_seed = parse_creds(good.read_text())[1]
    await _leak_check_case(
        operator_server.url,
        {"creds": str(good)},
        {"creds": str(bad)},
        [good_seed, bad_usr.seed, good_jwt, bad_jwt],
        caplog,
    )


def test_options_repr_hides_every_secret():
    opts = ConnectOptions(
        servers=[f"nats://bob:{PASSWORD.replace('#', '%23')}@h1:4222", f"tls://{TOKEN}@h2:4443", "h3"],
        user="bob",
        password=PASSWORD,
        token=TOKEN,
        nkey_seed="SUSEEDSEEDSEED",
        creds="/secret/path/user.creds",
        tls_key="/secret/path/key.pem",
    )
    text = _texts(opts)
    _assert_no_secret(text, [PASSWORD, PASSWORD.replace("#", "%23"), TOKEN, "SUSEEDSEEDSEED", "/secret/path"])
    assert "password=<set>" in text and "nats://h1:4222" in text and "tls://h2:4443" in text
    assert "user='bob'" in text  # a user name is not a secret


async def test_malformed_url_error_does_not_echo_credentials():
    bad = f"nats://bob:{TOKEN}@127.0.0.1:notaport"
    with pytest.raises(NatsError) as info:
        await connect(bad)
    _assert_no_secret(_texts(info.value, ConnectOptions(servers=[bad])), [TOKEN])


def test_servers_given_as_one_string():
    assert ConnectOptions(servers="nats://a:1, nats://b:2").servers == ["nats://a:1", "nats://b:2"]
