"""RFC 9449 DPoP proof validation and RFC 7638 JWK thumbprints.

A DPoP proof is a JWT signed by the client's key, which travels in its own ``jwk`` header. The
checks follow RFC 9449 §4.3 in order; the ``jti`` replay check comes last so that a proof failing
any other check does not occupy the replay cache. PyJWT checks the signature; everything else is
here, small and pure: ``now`` is an argument, and the only state is the injected replay cache.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import jwt

from connector.auth.errors import InvalidDpopProof, ReplayCacheFull
from connector.auth.tokens import (
    b64url_encode,
    check_algs,
    json_object,
    unverified_header,
    verify_signature,
)

DPOP_TYP: Final = "dpop+jwt"
MAX_JTI_CHARS: Final = 256
#: The key type (and curves) each alg may be used with.
_ALG_KEYS: Final[dict[str, tuple[str, frozenset[str] | None]]] = {
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    **{alg: ("RSA", None) for alg in ("PS256", "PS384", "PS512", "RS256", "RS384", "RS512")},
}
#: RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS: Final = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_REFUSED_HEADERS: Final = ("jku", "x5u", "x5c", "crit", "b64", "zip", "enc")
_REQUIRED_CLAIMS: Final = ("jti", "htm", "htu", "iat")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class DpopResult:
    """A validated proof: the key's RFC 7638 thumbprint, the proof's ``jti``, all its claims."""

    jkt: str
    jti: str
    claims: dict[str, Any]


class ReplayCache(Protocol):
    """Remembers proof ``jti`` values until they could no longer pass the ``iat`` check."""

    def seen(self, jti: str, expires_at: float) -> bool:
        """Record ``jti`` until ``expires_at``; return True if it was already recorded."""
        ...


class InMemoryReplayCache:
    """A thread-safe, per-process :class:`ReplayCache` whose entries expire.

    Only correct for a single replica; several replicas need a shared cache. When full of
    unexpired entries it refuses new proofs (fail closed) with ``ReplayCacheFull``.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, jti: str, expires_at: float) -> bool:
        """Record ``jti`` until ``expires_at``; return True if an unexpired entry exists."""
        now = self._clock()
        with self._lock:
            previous = self._entries.get(jti)
            if previous is not None and previous >= now:
                return True
            if len(self._entries) >= self._max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v >= now}
                if len(self._entries) >= self._max_entries:
                    raise ReplayCacheFull("DPoP replay cache is full")
            self._entries[jti] = expires_at
            return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint (base64url) of a public JWK.

    Only the required members of the key type count; raises ``ValueError`` for an unknown
    ``kty`` or a missing or non-string member.
    """
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError("unsupported kty for a thumbprint")
    if not all(isinstance(jwk.get(name), str) for name in members):
        raise ValueError("jwk lacks a required member for its kty")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"),
                           sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def _normalize_percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = "/" if out and segments[-1] in (".", "..") else ""
    return "/" + "/".join(out) + trailing


def normalize_htu(uri: str) -> str:
    """Normalise an http(s) URI for the ``htu`` comparison (RFC 9449 §4.3, RFC 3986 §6.2).

    Lower-cases scheme and host, drops the default port, query and fragment, normalises
    percent-encoding and dot segments, and turns an empty path into ``/``. Raises
    ``ValueError`` for anything that is not an absolute http(s) URI without userinfo.
    """
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in uri):
        raise ValueError("URI contains whitespace or control characters")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URI")
    if "@" in parts.netloc:
        raise ValueError("URI must not carry userinfo")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_PERCENT.sub(_normalize_percent, parts.path) or "/")
    return f"{scheme}://{authority}{path}"


def _access_token_hash(access_token: str) -> str:
    return b64url_encode(hashlib.sha256(access_token.encode("utf-8")).digest())


def _proof_key(header: Mapping[str, Any], alg: str) -> tuple[jwt.PyJWK, str]:
    jwk = header.get("jwk")
    if jwk is None:
        raise InvalidDpopProof("DPoP proof header has no jwk")
    if not isinstance(jwk, dict):
        raise InvalidDpopProof("DPoP proof jwk header is not a JSON object")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDpopProof("DPoP proof jwk header contains private key material")
    kty, curves = _ALG_KEYS[alg]
    if jwk.get("kty") != kty or (curves is not None and jwk.get("crv") not in curves):
        raise InvalidDpopProof("DPoP proof jwk does not fit its alg")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
        jkt = jwk_thumbprint(jwk)
    except (jwt.exceptions.PyJWTError, ValueError):
        raise InvalidDpopProof("DPoP proof jwk is not a valid public key") from None
    return key, jkt


def _check_claims(claims: Mapping[str, Any], *, htm: str, htu: str, now: float,
                  max_age: int, leeway: int) -> float:
    for name in _REQUIRED_CLAIMS:
        if name not in claims:
            raise InvalidDpopProof(f"DPoP proof lacks the {name} claim")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise InvalidDpopProof("DPoP proof jti must be a string of 1 to 256 characters")
    if claims["htm"] != htm:
        raise InvalidDpopProof("DPoP proof htm does not match the request method")
    try:
        proof_htu = normalize_htu(claims["htu"]) if isinstance(claims["htu"], str) else None
    except ValueError:
        proof_htu = None
    if proof_htu is None:
        raise InvalidDpopProof("DPoP proof htu is not an http(s) URI")
    if proof_htu != normalize_htu(htu):
        raise InvalidDpopProof("DPoP proof htu does not match the request URI")
    iat = claims["iat"]
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise InvalidDpopProof("DPoP proof iat is not a number")
    if iat > now + leeway:
        raise InvalidDpopProof("DPoP proof iat is in the future")
    if iat < now - max_age - leeway:
        raise InvalidDpopProof("DPoP proof is too old (iat)")
    return float(iat)


def validate_dpop_proof(
    proof: str,
    *,
    htm: str,
    htu: str,
    now: float,
    replay: ReplayCache,
    access_token: str | None = None,
    expected_jkt: str | None = None,
    max_age: int = 60,
    leeway: int = 5,
    allowed_algs: Sequence[str] = ("EdDSA", "ES256"),
) -> DpopResult:
    """Validate one DPoP proof for the request ``htm htu`` at time ``now`` (RFC 9449 §4.3).

    With ``access_token`` the proof's ``ath`` must be its SHA-256 hash; with ``expected_jkt``
    (the token's ``cnf.jkt``) the proof key's thumbprint must equal it. Raises
    ``InvalidDpopProof`` naming the failed check, ``ValueError`` for an unsafe configuration
    or an unparseable request URI.
    """
    algs = check_algs(allowed_algs)
    if max_age <= 0 or leeway < 0:
        raise ValueError("max_age must be positive and leeway not negative")
    if not isinstance(proof, str) or not proof or "," in proof or proof != proof.strip():
        raise InvalidDpopProof("exactly one DPoP proof is required")
    header = unverified_header(proof, error=InvalidDpopProof)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != DPOP_TYP:
        raise InvalidDpopProof("DPoP proof typ must be dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        raise InvalidDpopProof(f"DPoP proof alg must be one of {', '.join(algs)}")
    for name in _REFUSED_HEADERS:
        if name in header:
            raise InvalidDpopProof(f"DPoP proof header parameter {name} is refused")
    key, jkt = _proof_key(header, alg)
    payload = verify_signature(proof, key, alg, error=InvalidDpopProof)
    claims = json_object(payload, error=InvalidDpopProof, what="DPoP proof payload")
    iat = _check_claims(claims, htm=htm, htu=htu, now=now, max_age=max_age, leeway=leeway)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str):
            raise InvalidDpopProof("DPoP proof lacks the ath claim")
        if not hmac.compare_digest(ath.encode(), _access_token_hash(access_token).encode()):
            raise InvalidDpopProof("DPoP proof ath does not match the access token")
    if expected_jkt is not None and not hmac.compare_digest(jkt.encode(), expected_jkt.encode()):
        raise InvalidDpopProof("DPoP proof key does not match the token's cnf.jkt")
    if replay.seen(claims["jti"], iat + max_age + leeway):
        raise InvalidDpopProof("DPoP proof jti has been used before (replay)")
    return DpopResult(jkt=jkt, jti=claims["jti"], claims=claims)
