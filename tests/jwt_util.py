"""Operator-mode test fixtures: nkeys and NATS JWTs made at test time (no ``nsc``, no nats-py).

A NATS JWT is ``b64(header) . b64(claims) . b64(sig)`` with raw URL-safe base64 and
``header = {"typ":"JWT","alg":"ed25519-nkey"}``; the signature is Ed25519 by the issuer's nkey over
``header_b64.claims_b64``. ``jti`` is the base32 (no padding) hash of the claims with an empty
``jti``, like nats-io/jwt v2 ``ClaimsData.hash`` (the server does not check it).

Usage::

    op = NKey.new("operator"); acc = NKey.new("account"); usr = NKey.new("user")
    config = operator_config(op, [acc])          # operator + resolver MEMORY + preload
    creds_text = creds(user_jwt(usr, acc), usr.seed)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import nkeys

__all__ = ["NKey", "encode_jwt", "operator_jwt", "account_jwt", "user_jwt", "creds", "operator_config"]

_PREFIX = {
    "operator": nkeys.PREFIX_BYTE_OPERATOR,
    "account": nkeys.PREFIX_BYTE_ACCOUNT,
    "user": nkeys.PREFIX_BYTE_USER,
}


@dataclass
class NKey:
    """An nkey pair: ``seed`` (``SO...``/``SA...``/``SU...``) and ``public`` (``O``/``A``/``U...``)."""

    kind: str
    seed: str
    public: str

    @classmethod
    def new(cls, kind: str) -> "NKey":
        seed = nkeys.encode_seed(os.urandom(32), _PREFIX[kind]).decode("ascii")
        kp = nkeys.from_seed(seed.encode("ascii"))
        return cls(kind, seed, kp.public_key.decode("ascii"))

    def sign(self, data: bytes) -> bytes:
        return nkeys.from_seed(self.seed.encode("ascii")).sign(data)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jti(claims: dict[str, Any]) -> str:
    body = json.dumps({**claims, "jti": ""}, separators=(",", ":"), sort_keys=True).encode()
    try:
        digest = hashlib.new("sha512_256", body).digest()
    except ValueError:  # OpenSSL without sha512/256
        digest = hashlib.sha256(body).digest()
    return base64.b32encode(digest).rstrip(b"=").decode("ascii")


def encode_jwt(issuer: NKey, subject: str, name: str, nats: dict[str, Any], *, expires: Optional[int] = None) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}, separators=(",", ":")).encode())
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": issuer.public,
        "sub": subject,
        "name": name,
        "nats": nats,
    }
    if expires is not None:
        claims["exp"] = expires
    claims["jti"] = _jti(claims)
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}"
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode('ascii')))}"


def operator_jwt(op: NKey, system_account: Optional[NKey] = None) -> str:
    nats: dict[str, Any] = {"type": "operator", "version": 2}
    if system_account is not None:
        nats["system_account"] = system_account.public
    return encode_jwt(op, op.public, "test-operator", nats)


def account_jwt(op: NKey, acc: NKey, name: str = "test-account", jetstream: bool = False) -> str:
    limits: dict[str, Any] = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                              "wildcards": True, "conn": -1, "leaf": -1}
    if jetstream:
        limits.update({"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1})
    return encode_jwt(op, acc.public, name, {"type": "account", "version": 2, "limits": limits})


def user_jwt(usr: NKey, acc: NKey, name: str = "test-user", *, expires: Optional[int] = None,
             pub: Optional[dict[str, Any]] = None, sub: Optional[dict[str, Any]] = None) -> str:
    nats = {
        "type": "user",
        "version": 2,
        "pub": pub or {},
        "sub": sub or {},
        "subs": -1,
        "data": -1,
        "payload": -1,
    }
    return encode_jwt(acc, usr.public, name, nats, expires=expires)


def creds(jwt: str, seed: str) -> str:
    """The text of a ``.creds`` file, decorated the way ``nsc`` writes it."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


def operator_config(op: NKey, accounts: Iterable[tuple[NKey, str]], system_account: Optional[NKey] = None) -> str:
    """Server config text for operator mode with an in-memory resolver preloaded with ``accounts``
    (pairs of account key and account JWT)."""
    lines = [f"operator: {operator_jwt(op, system_account)}"]
    if system_account is not None:
        lines.append(f"system_account: {system_account.public}")
    lines.append("resolver: MEMORY")
    lines.append("resolver_preload: {")
    for acc, jwt in accounts:
        lines.append(f"  {acc.public}: {jwt}")
    lines.append("}")
    return "\n".join(lines) + "\n"
