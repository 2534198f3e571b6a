"""The resource side: from the headers of one request to a :class:`Principal`, or a refusal.

Order of checks: the Authorization header's shape; the issuer (by ``iss``) and the token under
that issuer's rules (``tokens.validate_access_token``); the token binding — a token with
``cnf.jkt`` only with the DPoP scheme and a valid proof for this request, a token without it
only as Bearer; last the database: revoked ``jti``, disabled client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from connector.auth.dpop import ReplayCache, validate_dpop_proof
from connector.auth.errors import (
    ClientDisabled,
    InvalidDpopProof,
    MalformedAuthorization,
    MissingToken,
    TokenRevoked,
    WrongTokenBinding,
)
from connector.auth.issuers import IssuerRegistry
from connector.auth.principal import Principal
from connector.auth.store import AuthStore
from connector.auth.tokens import MAX_LEEWAY, validate_access_token

#: RFC 6750 §2.1 b64token / RFC 9449 §7.1 token68.
_TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
DPOP_ALGS: Final = ("EdDSA", "ES256")


@dataclass(frozen=True)
class Presented:
    """What one HTTP request presents: every Authorization and DPoP header, method and URL.

    ``url`` is the request URL as the client addressed it (the public URL plus the path), which
    DPoP's ``htu`` must match.
    """

    authorization: tuple[str, ...]
    dpop: tuple[str, ...]
    method: str
    url: str


def parse_authorization(values: Sequence[str]) -> tuple[str, str]:
    """Split the one Authorization header into (``bearer`` | ``dpop``, token).

    Raises ``MissingToken`` when there is none and ``MalformedAuthorization`` otherwise.
    """
    if not values:
        raise MissingToken("an access token is required")
    if len(values) > 1:
        raise MalformedAuthorization("more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        raise MalformedAuthorization("Authorization scheme must be Bearer or DPoP")
    token = token.strip()
    if not _TOKEN68.fullmatch(token):
        raise MalformedAuthorization("Authorization header carries no well-formed token")
    return scheme, token


class ResourceGuard:
    """Validates presented access tokens against the trusted issuers and the database."""

    def __init__(self, *, issuers: IssuerRegistry, store: AuthStore, dpop_replay: ReplayCache,
                 leeway: int = MAX_LEEWAY, dpop_algs: Sequence[str] = DPOP_ALGS,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuers = issuers
        self._store = store
        self._replay = dpop_replay
        self._leeway = leeway
        self._dpop_algs = tuple(dpop_algs)
        self._clock = clock

    def authenticate(self, presented: Presented) -> Principal:
        """Return the principal of a valid token; raise an ``Unauthenticated`` error otherwise."""
        scheme, token = parse_authorization(presented.authorization)
        now = self._clock()
        issuer = self.issuers.for_token(token)
        claims = validate_access_token(token, keys=issuer.keys, issuer=issuer.issuer,
                                       audience=issuer.audience, now=now, leeway=self._leeway,
                                       allowed_algs=issuer.algorithms,
                                       max_lifetime=issuer.max_lifetime)
        cnf = claims.get("cnf")
        jkt = cnf["jkt"] if isinstance(cnf, dict) else None
        if jkt is not None and scheme != "dpop":
            raise WrongTokenBinding("token is DPoP-bound: send it with the DPoP scheme and a proof")
        if jkt is None and scheme == "dpop":
            raise WrongTokenBinding("token is not DPoP-bound: send it as a Bearer token")
        if jkt is not None:
            if len(presented.dpop) != 1:
                raise InvalidDpopProof("exactly one DPoP proof is required")
            validate_dpop_proof(presented.dpop[0], htm=presented.method, htu=presented.url,
                                now=now, replay=self._replay, access_token=token,
                                expected_jkt=jkt, allowed_algs=self._dpop_algs)
        status = self._store.token_status(claims["jti"], claims["client_id"])
        if status.revoked:
            raise TokenRevoked("token has been revoked")
        if status.client_disabled or (issuer.local and not status.client_known):
            raise ClientDisabled("the token's client is disabled or not registered")
        return issuer.principal(claims, dpop_jkt=jkt)
