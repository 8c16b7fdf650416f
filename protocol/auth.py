"""Authentication fields of CONNECT: user/password, token, nkey and JWT ``.creds``.

nkey and JWT auth sign the server's INFO nonce (its ASCII bytes, not decoded) with Ed25519 and
send the signature as raw URL-safe base64 (wire.md 1.4). Signing needs the optional ``nkeys``
extra, imported lazily; without it a :class:`MissingDependencyError` names the extra.

Secrets (passwords, tokens, seeds, JWTs) never appear in exception messages, and exceptions
raised here never chain an exception whose text could hold one (``from None``).
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any, Optional

from .errors import AuthorizationError, MissingDependencyError, NatsError

__all__ = ["auth_fields", "check_auth_options", "parse_creds", "load_seed", "require_nkeys"]

# A "decorated" block: a line of 3+ dashes with a label, the token, a closing dashed line
# (nkeys creds.go userConfigRE). CRLF line ends are accepted.
_DECORATED = re.compile(
    r"\s*(?:(?:-{3,}[^\n]*-{3,}\r?\n)([\w\-.=]+)(?:\r?\n-{3,}[^\n]*-{3,}(?:\r?\n|\Z)))",
)
_SEED_PREFIXES = ("SU", "SA", "SO", "SN", "SC")


def require_nkeys() -> Any:
    """Import ``nkeys`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        import nkeys  # type: ignore[import-not-found]
    except ImportError:
        raise MissingDependencyError(
            "nkey and .creds authentication need the optional 'nkeys' package: "
            "pip install 'natsobj[nkeys]'"
        ) from None
    return nkeys


def parse_creds(text: str) -> tuple[str, str]:
    """Return ``(user_jwt, seed)`` from the text of a ``.creds`` file.

    Decorated blocks: the first is the JWT, the second the seed. Without decoration the first
    non-empty line is the JWT and a bare line starting ``SU``/``SA``/``SO`` is the seed.
    """
    blocks = [b for b in _DECORATED.findall(text) if b]
    if len(blocks) >= 2:
        return blocks[0], blocks[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    seed = next((ln for ln in lines if ln.startswith(_SEED_PREFIXES)), "")
    jwt = blocks[0] if blocks else next((ln for ln in lines if ln.count(".") == 2), "")
    if jwt and seed:
        return jwt, seed
    raise NatsError("credentials file holds no user JWT and nkey seed blocks")


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as err:
        raise NatsError(f"cannot read {what} {path!r}: {err.strerror or type(err).__name__}") from None
    except UnicodeDecodeError:
        raise NatsError(f"{what} {path!r} is not UTF-8 text") from None


def load_seed(seed_or_path: str) -> str:
    """A seed string (``SU...``), or the path of a file holding one (a bare seed line or a
    decorated block, as ``nsc`` writes ``.nk`` files)."""
    value = seed_or_path.strip()
    if os.path.isfile(value):
        text = _read(value, "nkey seed file")
        blocks = [b for b in _DECORATED.findall(text) if b.startswith(_SEED_PREFIXES)]
        if blocks:
            return blocks[0]
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(_SEED_PREFIXES):
                return line
        raise NatsError("nkey seed file holds no seed")
    if value.startswith(_SEED_PREFIXES) and "/" not in value and os.sep not in value:
        return value
    raise NatsError("nkey_seed is neither an nkey seed nor the path of a seed file")


def _sign(seed: str, nonce: str) -> tuple[str, str]:
    """Return ``(public_key, signature)`` of the nonce's ASCII bytes (raw URL base64)."""
    nkeys = require_nkeys()
    try:
        kp = nkeys.from_seed(seed.encode("ascii"))
        sig = kp.sign(nonce.encode("ascii"))
        public = kp.public_key.decode("ascii")
    except Exception:  # nkeys raises its own error types; never echo or chain the seed
        raise AuthorizationError("invalid nkey seed") from None
    return public, base64.urlsafe_b64encode(sig).rstrip(b"=").decode("ascii")


def check_auth_options(*, nkey_seed: Optional[str], creds: Optional[str]) -> None:
    """Checks that need no server, run before connecting: the ``nkeys`` extra is installed and
    the seed / creds file can be read. Raises :class:`MissingDependencyError` or :class:`NatsError`."""
    if not (nkey_seed or creds):
        return
    require_nkeys()
    if creds:
        parse_creds(_read(creds, "credentials file"))
    elif nkey_seed:
        load_seed(nkey_seed)


def auth_fields(
    *,
    user: Optional[str],
    password: Optional[str],
    token: Optional[str],
    nkey_seed: Optional[str],
    creds: Optional[str],
    nonce: Optional[str],
) -> dict[str, Any]:
    """The auth part of the CONNECT JSON for the given credentials.

    The creds file is read at every (re)connect, so a rotated file is picked up.
    """
    out: dict[str, Any] = {}
    if creds:
        jwt, seed = parse_creds(_read(creds, "credentials file"))
        if not nonce:
            raise AuthorizationError("server sent no nonce to sign for JWT authentication")
        _, sig = _sign(seed, nonce)
        out["jwt"] = jwt
        out["sig"] = sig
    elif nkey_seed:
        seed = load_seed(nkey_seed)
        if not nonce:
            raise AuthorizationError("server sent no nonce to sign for nkey authentication")
        public, sig = _sign(seed, nonce)
        out["nkey"] = public
        out["sig"] = sig
    if user:
        out["user"] = user
        out["pass"] = password or ""
    if token:
        out["auth_token"] = token
    return out
