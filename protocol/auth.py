"""Authentication fields of CONNECT: user/password, token, nkey and JWT ``.creds``.

nkey and JWT auth sign the server's INFO nonce (its ASCII bytes, not decoded) with Ed25519 and
send the signature as raw URL-safe base64 (wire.md 1.4). Signing needs the optional ``nkeys``
extra, imported lazily; without it a :class:`MissingDependencyError` names the extra.
Secrets never appear in exception messages.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any, Optional

from .errors import AuthorizationError, MissingDependencyError, NatsError

__all__ = ["auth_fields", "parse_creds", "load_seed"]

_DECORATED = re.compile(
    r"\s*(?:(?:[-]{3,}.*[-]{3,}\r?\n)([\w\-.=]+)(?:\r?\n[-]{3,}.*[-]{3,}(\r?\n|\Z)))",
)


def _nkeys():
    try:
        import nkeys  # type: ignore[import-not-found]
    except ImportError as err:
        raise MissingDependencyError(
            "nkey and .creds authentication need the optional 'nkeys' package: "
            "pip install 'natsobj[nkeys]'"
        ) from err
    return nkeys


def parse_creds(text: str) -> tuple[str, str]:
    """Return ``(user_jwt, seed)`` from the text of a ``.creds`` file."""
    blocks = _DECORATED.findall(text)
    if len(blocks) >= 2:
        return blocks[0][0], blocks[1][0]
    raise NatsError("credentials file has no JWT and seed blocks")


def load_seed(seed_or_path: str) -> str:
    """A seed string, or the path of a file holding one (a bare seed or a decorated block)."""
    value = seed_or_path.strip()
    if not value.startswith("S") and os.path.exists(seed_or_path):
        with open(seed_or_path, encoding="utf-8") as f:
            text = f.read()
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("SU", "SA", "SO", "SN")):
                return line
        raise NatsError("nkey seed file holds no seed")
    return value


def _sign(seed: str, nonce: str) -> tuple[str, str]:
    """Return ``(public_key, signature)`` of the nonce's ASCII bytes."""
    nkeys = _nkeys()
    try:
        kp = nkeys.from_seed(seed.encode("ascii"))
        sig = kp.sign(nonce.encode("ascii"))
        public = kp.public_key.decode("ascii")
    except Exception as err:  # nkeys raises its own error types; never echo the seed
        raise AuthorizationError("invalid nkey seed") from err
    return public, base64.urlsafe_b64encode(sig).rstrip(b"=").decode("ascii")


def auth_fields(
    *,
    user: Optional[str],
    password: Optional[str],
    token: Optional[str],
    nkey_seed: Optional[str],
    creds: Optional[str],
    nonce: Optional[str],
) -> dict[str, Any]:
    """The auth part of the CONNECT JSON for the given credentials."""
    out: dict[str, Any] = {}
    if creds:
        try:
            with open(creds, encoding="utf-8") as f:
                jwt, seed = parse_creds(f.read())
        except OSError as err:
            raise NatsError(f"cannot read credentials file: {err.strerror}") from None
        if not nonce:
            raise AuthorizationError("server sent no nonce to sign for JWT authentication")
        _, sig = _sign(seed, nonce)
        out["jwt"] = jwt
        out["sig"] = sig
    elif nkey_seed:
        if not nonce:
            raise AuthorizationError("server sent no nonce to sign for nkey authentication")
        public, sig = _sign(load_seed(nkey_seed), nonce)
        out["nkey"] = public
        out["sig"] = sig
    if user:
        out["user"] = user
        out["pass"] = password or ""
    if token:
        out["auth_token"] = token
    return out
