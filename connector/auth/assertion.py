"""``private_key_jwt`` client authentication (RFC 7523 §2.2, §3) on Authlib's framework.

Authlib's :class:`JWTBearerClientAssertion` drives the flow (find the client by ``sub``, get
its keys, check the assertion, authenticate); the checks themselves are overridden here to be
strict: pinned algorithms, the key chosen by ``kid`` among the client's registered keys only,
``aud`` naming the token endpoint, a lifetime of at most five minutes, a leeway of at most 30
seconds, and a ``jti`` that can be used once (recorded in the database).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import jwt
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion

from connector.auth.clients import ASSERTION_ALGS, RegisteredClient
from connector.auth.store import KIND_ASSERTION, AuthStore
from connector.auth.tokens import (
    MAX_LEEWAY,
    b64url_decode,
    json_object,
    unverified_header,
    verify_signature,
)
from connector.errors import InvalidToken

MAX_ASSERTION_LIFETIME: Final = 300
MAX_JTI_CHARS: Final = 256
_REFUSED_HEADERS: Final = ("jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc")


def _refuse(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


class ClientKeys:
    """The public keys of one client by kid (kept out of Authlib's own key import)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys: dict[str, dict[str, Any]] = {key["kid"]: key for key in jwks["keys"]}

    def select(self, kid: Any, alg: str) -> Any:
        """The key for ``kid`` (or the only key fitting ``alg``); refuse anything else."""
        if kid is None:
            fitting = [k for k in self.keys.values() if k["alg"] == alg]
            if len(fitting) != 1:
                raise _refuse("client assertion needs a kid naming one of the client keys")
            jwk = fitting[0]
        elif not isinstance(kid, str) or kid not in self.keys:
            raise _refuse("client assertion kid is not a registered key of the client")
        else:
            jwk = self.keys[kid]
        if jwk["alg"] != alg:
            raise _refuse("client assertion alg does not fit the registered key")
        public = {name: value for name, value in jwk.items() if name not in ("alg", "use", "kid")}
        return jwt.PyJWK(public, algorithm=alg).key


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(f"client assertion claim {name} is missing or not a number")
    return float(value)


class PrivateKeyJwtAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    """The ``private_key_jwt`` method, registered on the authorization server."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, *, token_endpoint: str, store: AuthStore,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(validate_jti=True, leeway=MAX_LEEWAY)
        self._token_endpoint = token_endpoint
        self._store = store
        self._clock = clock

    def get_audiences(self) -> list[str]:
        """The one accepted ``aud``: the token endpoint URL."""
        return [self._token_endpoint]

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of the assertion, unverified (the client is looked up by ``sub``)."""
        try:
            header = unverified_header(assertion, error=InvalidToken)
            claims = json_object(b64url_decode(assertion.split(".")[1]), error=InvalidToken,
                                 what="payload")
        except (InvalidToken, ValueError):
            raise _refuse("client assertion is not a well-formed JWT") from None
        return header, claims

    def resolve_client_public_key(self, client: RegisteredClient) -> ClientKeys:
        """The client's registered keys; disabled or keyless clients are refused here."""
        if client.record.disabled:
            raise _refuse("client is disabled")
        if client.record.jwks is None:
            raise _refuse("client has no registered public keys")
        return ClientKeys(client.record.jwks)

    def process_assertion_claims(self, assertion: str, resolve_key: ClientKeys) -> dict[str, Any]:
        """Verify the signature with the client's key under a pinned alg, then the claims."""
        header, _ = self.extract_assertion(assertion)
        for name in _REFUSED_HEADERS:
            if name in header:
                raise _refuse(f"client assertion header parameter {name} is refused")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ASSERTION_ALGS:
            raise _refuse(f"client assertion alg must be one of {', '.join(ASSERTION_ALGS)}")
        key = resolve_key.select(header.get("kid"), alg)
        try:
            payload = verify_signature(assertion, key, alg, error=InvalidToken)
        except InvalidToken:
            raise _refuse("client assertion signature does not verify") from None
        claims = json_object(payload, error=InvalidToken, what="payload")
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims: Mapping[str, Any]) -> None:
        """RFC 7523 §3 claims, strictly: iss = sub = client, aud, exp, iat, lifetime, jti."""
        iss, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(iss, str) or iss != sub:
            raise _refuse("client assertion iss and sub must both be the client_id")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or self._token_endpoint not in audiences:
            raise _refuse("client assertion aud must be the token endpoint URL")
        now = self._clock()
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        if now >= exp + self.leeway:
            raise _refuse("client assertion has expired")
        if iat > now + self.leeway or ("nbf" in claims and _number(claims, "nbf") > now
                                       + self.leeway):
            raise _refuse("client assertion is not valid yet")
        if exp - iat > MAX_ASSERTION_LIFETIME or exp > now + MAX_ASSERTION_LIFETIME + self.leeway:
            raise _refuse(f"client assertion lifetime exceeds {MAX_ASSERTION_LIFETIME} seconds")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise _refuse("client assertion needs a jti of 1 to 256 characters")
        if not self.validate_jti(claims, jti):
            raise _refuse("client assertion jti has been used before (replay)")

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        """Record ``jti`` for this client until the assertion expires; False on a replay."""
        return self._store.first_use(KIND_ASSERTION, str(claims["sub"]), jti,
                                     float(claims["exp"]) + self.leeway)

    def authenticate_client(self, client: RegisteredClient) -> RegisteredClient:
        """Accept the client if it may use this method (it has keys and is enabled)."""
        if client.check_endpoint_auth_method(self.CLIENT_AUTH_METHOD, "token"):
            return client
        raise _refuse("client cannot use private_key_jwt")
