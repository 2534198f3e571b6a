"""Who the counterparty of a DSP message is: pluggable identity schemes behind one Protocol.

Incoming: a scheme looks at the request's ``Authorization`` header and names the participant
(or does not recognise it). Outgoing: a scheme supplies the headers that prove who *we* are to
the other connector. Schemes:

* ``oauth2`` (default): incoming tokens are access tokens our authorization server (or a
  configured external issuer) issued to the partner's client; the participant is the token's
  ``participant`` claim. Outgoing, we ask the counterparty's authorization server (or a shared
  IdP) for a token with ``client_credentials`` + ``private_key_jwt`` signed with our own key.
* ``fixed``: fixed ``Authorization`` header values mapped to participants, for tests and the
  TCK (which sends one header for a whole run). Refused in production mode.

Eclipse EDC's schemes (its mock identity, the Decentralized Claims Protocol) fit the same
Protocol as further schemes; nothing in the protocol code knows which scheme is in use.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt

from connector.auth.principal import Principal
from connector.auth.resource import Presented
from connector.errors import ConfigurationError, Unauthenticated

log = logging.getLogger("connector.dsp.identity")


@dataclass(frozen=True)
class Counterparty:
    """The authenticated other side of a DSP exchange."""

    participant: str
    scheme: str


class IdentityScheme(Protocol):
    """One way of proving identity between connectors."""

    name: str

    def verify(self, presented: Presented) -> Counterparty | None:
        """The counterparty behind the request's credentials, None if not recognised.

        Raises ``Unauthenticated`` when it recognises the credentials but they are not valid.
        """
        ...

    def outgoing_headers(self, *, counterparty: str, url: str) -> dict[str, str]:
        """Headers that authenticate us to ``counterparty`` for a request to ``url``."""
        ...


class FixedCredentialScheme:
    """Fixed header values → participants (non-production only)."""

    name = "fixed"

    def __init__(self, incoming: Mapping[str, str], outgoing: str | None,
                 *, production: bool) -> None:
        if production:
            raise ConfigurationError("the fixed-credential DSP identity scheme is refused in "
                                     "production mode")
        self._incoming = dict(incoming)
        self._outgoing = outgoing

    def verify(self, presented: Presented) -> Counterparty | None:
        """The participant mapped to this exact header value (constant-time compare)."""
        if len(presented.authorization) != 1:
            return None
        authorization = presented.authorization[0]
        for value, participant in self._incoming.items():
            if hmac.compare_digest(value.encode(), authorization.encode()):
                return Counterparty(participant, self.name)
        return None

    def outgoing_headers(self, *, counterparty: str, url: str) -> dict[str, str]:
        """The one configured outgoing header, if any."""
        return {"Authorization": self._outgoing} if self._outgoing else {}


class OAuth2Scheme:
    """Access tokens in, client-credential tokens out (RFC 6749 + RFC 7523 + RFC 9068)."""

    name = "oauth2"

    def __init__(self, *, authenticate: Callable[[Presented], Principal], token_url: str | None,
                 client_id: str | None, sign_assertion: Callable[[str, str], str],
                 timeout: float = 10.0) -> None:
        self._authenticate = authenticate
        self._token_url = token_url
        self._client_id = client_id
        self._sign = sign_assertion
        self._timeout = timeout
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def verify(self, presented: Presented) -> Counterparty | None:
        """The participant of a valid Bearer/DPoP access token; raises if it is invalid."""
        if not any(a.lower().startswith(("bearer ", "dpop ")) for a in presented.authorization):
            return None
        principal = self._authenticate(presented)
        if "partner" not in principal.roles:
            raise Unauthenticated("this token is not a partner connector's token")
        return Counterparty(principal.participant, self.name)

    def outgoing_headers(self, *, counterparty: str, url: str) -> dict[str, str]:
        """A cached or fresh access token from the configured token endpoint."""
        if not self._token_url or not self._client_id:
            return {}
        with self._lock:
            cached = self._cache.get(self._token_url)
            if cached and cached[1] > time.time() + 30:
                return {"Authorization": f"Bearer {cached[0]}"}
        assertion = self._sign(self._client_id, self._token_url)
        resp = httpx.post(self._token_url, timeout=self._timeout, data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion})
        if resp.status_code != 200:
            log.warning("token request refused", extra={"status": resp.status_code,
                                                         "token_url": self._token_url})
            return {}
        body = resp.json()
        token, expires_in = body["access_token"], float(body.get("expires_in", 60))
        with self._lock:
            self._cache[self._token_url] = (token, time.time() + expires_in)
        return {"Authorization": f"Bearer {token}"}


def client_assertion(private_key: object, kid: str, client_id: str, audience: str) -> str:
    """An RFC 7523 client assertion (EdDSA, 2 minutes, fresh jti)."""
    now = int(time.time())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": audience, "iat": now,
                       "exp": now + 120, "jti": str(uuid.uuid4())}, private_key,  # type: ignore[arg-type]
                      algorithm="EdDSA", headers={"kid": kid})


class Identity:
    """The schemes in force, tried in order for incoming requests; the first names the outgoing."""

    def __init__(self, schemes: list[IdentityScheme]) -> None:
        if not schemes:
            raise ConfigurationError("at least one DSP identity scheme is needed")
        self.schemes = schemes

    def verify(self, presented: Presented) -> Counterparty:
        """The counterparty, or ``Unauthenticated`` when no scheme recognises the request."""
        refused: Unauthenticated | None = None
        for scheme in self.schemes:
            try:
                counterparty = scheme.verify(presented)
            except Unauthenticated as exc:  # e.g. a Bearer value that is no token of ours
                refused = refused or exc
                continue
            if counterparty is not None:
                return counterparty
        raise refused or Unauthenticated("no credential this connector recognises")

    def outgoing_headers(self, *, counterparty: str, url: str) -> dict[str, str]:
        """Headers from the first scheme that has any."""
        for scheme in self.schemes:
            headers = scheme.outgoing_headers(counterparty=counterparty, url=url)
            if headers:
                return headers
        return {}


def identity_from_settings(runtime: Any) -> Identity:
    """The schemes ``runtime.settings`` names, wired to the runtime's auth guard and keys."""
    settings = runtime.settings
    schemes: list[IdentityScheme] = []
    for name in settings.dsp_identity:
        if name == "fixed":
            schemes.append(FixedCredentialScheme(settings.dsp_fixed_credentials,
                                                 settings.dsp_fixed_outgoing,
                                                 production=settings.production))
        else:
            def sign(client_id: str, audience: str) -> str:
                key = runtime.keys.current("access-token")
                return client_assertion(key.private_key, key.kid, client_id, audience)

            schemes.append(OAuth2Scheme(authenticate=runtime.auth.guard.authenticate,
                                        token_url=settings.dsp_token_url,
                                        client_id=settings.dsp_client_id, sign_assertion=sign))
    return Identity(schemes)
