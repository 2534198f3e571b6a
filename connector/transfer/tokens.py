"""Data-plane tokens (the ``authorization`` of a pull data address): short-lived signed JWTs.

A token is a JWS signed with the connector's current ``access-token`` key, header
``typ: edr+jwt`` (so it can never pass as an ``at+jwt`` access token, nor an access token as
one of these), claims ``iss`` (our public URL), ``aud`` (our data plane, ``<public>/data``),
``transfer``, ``agreement``, ``dataset``, ``participant`` (the consumer), ``iat``, ``exp``
(at most 10 minutes later) and a fresh ``jti``. Nothing is stored: the data plane verifies the
signature against every key ever used for access tokens (rotation keeps old ones), then checks
the transfer it names against the database, so a suspended or terminated transfer stops its
tokens at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from connector.auth.keys import SigningKey
from connector.transfer.errors import DataTokenError

EDR_TYP = "edr+jwt"
ALGORITHM = "EdDSA"
MAX_LIFETIME = 600
LEEWAY = 5
_CLAIMS = ("transfer", "agreement", "dataset", "participant")


@dataclass(frozen=True)
class DataClaims:
    """What a verified data-plane token grants."""

    transfer: str
    agreement: str
    dataset: str
    participant: str
    expires_at: int
    token_id: str


def audience(public_url: str) -> str:
    """The ``aud`` of our data-plane tokens."""
    return public_url.rstrip("/") + "/data"


def issue(key: SigningKey, *, public_url: str, transfer: str, agreement: str, dataset: str,
          participant: str, lifetime: int = MAX_LIFETIME, now: float | None = None) -> str:
    """A token for pulling ``transfer``'s data, valid ``lifetime`` seconds (at most 600)."""
    issued = int(now if now is not None else time.time())
    claims = {"iss": public_url, "aud": audience(public_url), "iat": issued,
              "exp": issued + min(lifetime, MAX_LIFETIME), "jti": str(uuid.uuid4()),
              "transfer": transfer, "agreement": agreement, "dataset": dataset,
              "participant": participant}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                      headers={"typ": EDR_TYP, "kid": key.kid})


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; raise if there is none."""
    if not authorization:
        raise DataTokenError("this endpoint needs the data address's token as "
                             "'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise DataTokenError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify(token: str, *, keys: Sequence[SigningKey], public_url: str,
           now: float | None = None) -> DataClaims:
    """Check a data-plane token's header, signature, issuer, audience and lifetime."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise DataTokenError("the token is not a compact JWS") from None
    if str(header.get("typ", "")).lower() != EDR_TYP or header.get("alg") != ALGORITHM:
        raise DataTokenError(f"the token is not a data-plane token (typ {EDR_TYP})")
    key = next((k for k in keys if k.kid == header.get("kid")), None)
    if key is None:
        raise DataTokenError("the token was not signed by this connector")
    try:
        claims = _decode(token, key, public_url, time.time() if now is None else now)
    except jwt.ExpiredSignatureError:
        raise DataTokenError("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise DataTokenError(f"the token does not verify: {type(exc).__name__}") from None
    if not all(isinstance(claims.get(name), str) for name in _CLAIMS) \
            or not isinstance(claims["iat"], int) or claims["exp"] - claims["iat"] > MAX_LIFETIME:
        raise DataTokenError("the token's claims are malformed")
    return DataClaims(transfer=claims["transfer"], agreement=claims["agreement"],
                      dataset=claims["dataset"], participant=claims["participant"],
                      expires_at=claims["exp"], token_id=str(claims["jti"]))


def _decode(token: str, key: SigningKey, public_url: str, now: float) -> dict[str, Any]:
    # exp is checked here against ``now`` (tests move it), not by PyJWT against the clock.
    claims: dict[str, Any] = jwt.decode(
        token, key.public_key, algorithms=[ALGORITHM], audience=audience(public_url),
        issuer=public_url, options={"require": ["exp", "iat", "jti", *_CLAIMS],
                                    "verify_exp": False, "verify_iat": False})
    if not isinstance(claims["exp"], int) or now > claims["exp"] + LEEWAY:
        raise jwt.ExpiredSignatureError("expired")
    return claims
