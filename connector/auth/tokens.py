"""RFC 9068 JWT access tokens: issue them, and validate them on the resource side.

Validation reads the header before any key is touched: ``typ`` must be ``at+jwt``, ``alg`` must be
one of the pinned asymmetric algorithms, headers that could redirect key selection (``jku``,
``x5u``, ``jwk``, ``x5c``) are refused as an attack, and ``kid`` must be a short safe string
before it reaches a key resolver. The key comes from the resolver for the *configured* issuer,
never from the token. PyJWT checks the signature; the claims are checked here against ``now``.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol, TypeAlias

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from connector.auth.errors import (
    BadSignature,
    DisallowedAlgorithm,
    ForbiddenHeader,
    InvalidClaim,
    InvalidKeyId,
    LifetimeTooLong,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from connector.errors import InvalidToken

PublicKey: TypeAlias = (
    ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
)
PrivateKey: TypeAlias = (
    ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey | ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
)

#: Every alg this module will ever verify; ``none`` and ``HS*`` are deliberately absent.
ASYMMETRIC_ALGS: Final = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}
)
_EC_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
MAX_LEEWAY: Final = 30
DEFAULT_MAX_LIFETIME: Final = 600
MAX_TOKEN_CHARS: Final = 16_384
ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
KID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Headers that would let the token choose its own key (an attack), then extensions not
#: implemented here (a token must not rely on them).
REFUSED_HEADERS: Final = ("jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc")
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub", "jti", "client_id")
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]*")


class KeyResolver(Protocol):
    """Finds the public key an issuer signs access tokens with."""

    def resolve(self, kid: str | None, iss: str) -> PublicKey:
        """Return the public key for ``kid`` of issuer ``iss``; raise ``UnknownKey`` if none."""
        ...


def check_algs(allowed_algs: Sequence[str]) -> tuple[str, ...]:
    """Return ``allowed_algs`` as a tuple; raise ``ValueError`` unless all are asymmetric."""
    algs = tuple(allowed_algs)
    if not algs or not set(algs) <= ASYMMETRIC_ALGS:
        raise ValueError(f"allowed_algs must be a non-empty subset of {sorted(ASYMMETRIC_ALGS)}")
    return algs


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded, canonical base64url; raise ``ValueError`` on anything else."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    # The pattern and length check leave nothing that base64 could reject.
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if b64url_encode(data) != segment:
        raise ValueError("not canonical base64url")
    return data


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def json_object(data: bytes, *, error: type[InvalidToken], what: str) -> dict[str, Any]:
    """Parse ``data`` as one JSON object with unique members, or raise ``error``."""
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise error(f"{what} is not valid JSON with unique members") from None
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value


def unverified_header(token: str, *, error: type[InvalidToken]) -> dict[str, Any]:
    """Return the JOSE header of a compact JWS after shape checks only (no signature check)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise error("token is empty or too long")
    segments = token.split(".")
    if len(segments) != 3:
        raise error("token is not a compact JWS (three segments)")
    try:
        decoded = [b64url_decode(segment) for segment in segments]
    except ValueError:
        raise error("token segment is not canonical base64url") from None
    return json_object(decoded[0], error=error, what="header")


def verify_signature(token: str, key: Any, alg: str, *, error: type[InvalidToken]) -> bytes:
    """Verify the signature of ``token`` with ``key`` under exactly ``alg``; return the payload."""
    try:
        decoded = jwt.api_jws.PyJWS().decode_complete(
            token, key, algorithms=[alg], options={"enforce_minimum_key_length": True}
        )
    except jwt.exceptions.InvalidSignatureError:
        raise error("signature does not verify") from None
    except jwt.exceptions.PyJWTError:
        raise error("signature could not be checked with the key") from None
    return bytes(decoded["payload"])


def _check_key_fits(key: object, alg: str) -> None:
    if alg == "EdDSA":
        fits = isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    elif alg in _EC_CURVES:
        fits = isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _EC_CURVES[alg]
    else:
        fits = isinstance(key, rsa.RSAPublicKey)
    if not fits:
        raise DisallowedAlgorithm("alg does not fit the issuer's key for this kid")


def _check_header(header: Mapping[str, Any], algs: tuple[str, ...]) -> tuple[str, str | None]:
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise WrongTokenType("header typ must be at+jwt")
    for name in REFUSED_HEADERS:
        if name in header:
            raise ForbiddenHeader(f"header parameter {name} is refused")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        raise DisallowedAlgorithm(f"header alg must be one of {', '.join(algs)}")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid)):
        raise InvalidKeyId("header kid must match [A-Za-z0-9._-]{1,128}")
    return alg, kid


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClaim(f"claim {name} must be a number", claim=name)
    return float(value)


def _check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str, now: float,
                  leeway: int, max_lifetime: int) -> None:
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise MissingClaim(f"required claim {name} is missing", claim=name)
    for name in ("iss", "sub", "jti", "client_id"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidClaim(f"claim {name} must be a non-empty string", claim=name)
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise InvalidClaim("claim scope must be a string", claim="scope")
    cnf = claims.get("cnf")
    if cnf is not None and not (isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str)):
        raise InvalidClaim("claim cnf must be an object with a jkt string", claim="cnf")
    if claims["iss"] != issuer:
        raise WrongIssuer("iss is not the expected issuer")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise InvalidClaim("claim aud must be a string or a list of strings", claim="aud")
    if audience not in audiences:
        raise WrongAudience("aud does not include this resource server")
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if now >= exp + leeway:
        raise TokenExpired("token has expired")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise TokenNotYetValid("token is not valid yet (nbf)")
    if iat > now + leeway:
        raise TokenNotYetValid("token was issued in the future (iat)")
    if exp - iat > max_lifetime:
        raise LifetimeTooLong(f"token lifetime exceeds {max_lifetime} seconds")


def validate_access_token(
    token: str,
    *,
    keys: KeyResolver,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway: int = MAX_LEEWAY,
    allowed_algs: Sequence[str] = ("EdDSA", "ES256"),
    is_revoked: Callable[[str], bool] = lambda jti: False,
    max_lifetime: int = DEFAULT_MAX_LIFETIME,
) -> dict[str, Any]:
    """Validate an RFC 9068 access token and return its claims.

    Raises an ``AccessTokenError`` subclass (an ``InvalidToken``) naming the failed check, and
    ``ValueError`` when the configuration itself is unsafe (leeway above 30 s, a symmetric or
    ``none`` alg, a non-positive lifetime). The caller checks scope and DPoP binding (``cnf``).
    """
    if not 0 <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
    if max_lifetime <= 0:
        raise ValueError("max_lifetime must be positive")
    algs = check_algs(allowed_algs)
    current = time.time() if now is None else now
    header = unverified_header(token, error=MalformedToken)
    alg, kid = _check_header(header, algs)
    try:
        key = keys.resolve(kid, issuer)
    except LookupError:  # resolvers should raise UnknownKey; a KeyError means the same
        raise UnknownKey("no key is known for this kid") from None
    _check_key_fits(key, alg)
    payload = verify_signature(token, key, alg, error=BadSignature)
    claims = json_object(payload, error=MalformedToken, what="payload")
    _check_claims(claims, issuer=issuer, audience=audience, now=current, leeway=leeway,
                  max_lifetime=max_lifetime)
    if is_revoked(claims["jti"]):
        raise TokenRevoked("token has been revoked")
    return claims


_RESERVED: Final = frozenset({*REQUIRED_CLAIMS, "nbf", "scope", "participant", "cnf"})


def issue_access_token(
    *,
    private_key: PrivateKey,
    kid: str,
    alg: str,
    issuer: str,
    audience: str | Sequence[str],
    subject: str,
    client_id: str,
    scope: str,
    participant: str,
    lifetime: int = 300,
    cnf_jkt: str | None = None,
    now: float | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign an RFC 9068 access token (header ``typ: at+jwt``) and return ``(token, claims)``.

    ``jti`` is random; ``participant`` names the dataspace participant; ``cnf.jkt`` binds the
    token to a DPoP key when ``cnf_jkt`` is given. ``extra_claims`` may not override these.
    """
    check_algs([alg])
    if not KID_PATTERN.fullmatch(kid):
        raise ValueError("kid must match [A-Za-z0-9._-]{1,128}")
    if lifetime <= 0:
        raise ValueError("lifetime must be positive")
    extra = dict(extra_claims or {})
    if clash := sorted(_RESERVED & extra.keys()):
        raise ValueError(f"extra_claims may not set {', '.join(clash)}")
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        **extra, "iss": issuer, "sub": subject,
        "aud": audience if isinstance(audience, str) else list(audience),
        "iat": iat, "exp": iat + lifetime, "jti": secrets.token_urlsafe(24),
        "client_id": client_id, "scope": scope, "participant": participant,
    }
    if cnf_jkt is not None:
        claims["cnf"] = {"jkt": cnf_jkt}
    token = jwt.encode(claims, private_key, algorithm=alg, headers={"typ": "at+jwt", "kid": kid})
    return token, claims
