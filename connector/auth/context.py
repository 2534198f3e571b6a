"""The OAuth parts of one connector process, built from settings: stores, keys, issuers, guard.

Everything here is framework-free; ``api/oauth.py`` puts Authlib's server core on top of it and
``api/security.py`` asks :attr:`AuthContext.guard` for a principal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from authlib.common.security import is_secure_transport
from sqlalchemy.engine import Engine

from connector.auth.issuers import CurrentSigningKey, Issuer, IssuerRegistry, PublishedKeyResolver
from connector.auth.jwks import Fetch, RemoteJwks
from connector.auth.keys import KeyStore
from connector.auth.resource import ResourceGuard
from connector.auth.store import KIND_DPOP, AuthStore
from connector.auth.tokens import DEFAULT_MAX_LIFETIME, MAX_LEEWAY, check_algs
from connector.config import Settings
from connector.errors import ConfigurationError

TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path
JWKS_PATH: Final = "/oauth/jwks"
INTROSPECTION_PATH: Final = "/oauth/introspect"
REVOCATION_PATH: Final = "/oauth/revoke"
METADATA_PATH: Final = "/.well-known/oauth-authorization-server"
#: The embedded AS signs with Ed25519 keys only.
ACCESS_TOKEN_ALG: Final = "EdDSA"  # noqa: S105 - an algorithm name
#: A retired key stays published as long as a token it signed can still be accepted.
KEY_RETENTION: Final = DEFAULT_MAX_LIFETIME + MAX_LEEWAY


class AuthContext:
    """What the authorization server and the resource side share within one process."""

    def __init__(self, settings: Settings, engine: Engine, keys: KeyStore, *,
                 clock: Callable[[], float] = time.time, fetch: Fetch | None = None) -> None:
        if settings.production and not is_secure_transport(settings.public_url):
            raise ConfigurationError("production mode needs an https CONNECTOR_PUBLIC_URL "
                                     "(plain http only on loopback)")
        self.issuer = settings.effective_issuer
        self.public_url = settings.public_url
        self.audience = settings.public_url
        self.token_endpoint = self.public_url + TOKEN_PATH
        self.lifetime = settings.access_token_lifetime
        self.client_auth_methods: tuple[str, ...] = ("private_key_jwt",) + (
            ("client_secret_basic",) if settings.client_secrets_allowed else ())
        self.secrets_allowed = settings.client_secrets_allowed
        self.require_secure_transport = settings.production
        self.clock = clock
        self.store = AuthStore(engine, clock=clock)
        self.dpop_replay = self.store.replay_cache(KIND_DPOP)
        self.signing_key = CurrentSigningKey(keys)
        self.local_keys = PublishedKeyResolver(keys, retention=KEY_RETENTION, clock=clock)
        own = Issuer(issuer=self.issuer, audience=self.audience, keys=self.local_keys,
                     algorithms=(ACCESS_TOKEN_ALG,), max_lifetime=DEFAULT_MAX_LIFETIME,
                     local=True)
        issuers = [own]
        for external in settings.external_issuers:
            if any(known.issuer == external.issuer for known in issuers):
                raise ConfigurationError(f"issuer {external.issuer} is configured twice")
            try:
                algorithms = check_algs(external.algorithms)
            except ValueError as exc:
                raise ConfigurationError(f"issuer {external.issuer}: {exc}") from None
            jwks = RemoteJwks(external.jwks_uri, fetch=fetch, ttl=external.jwks_cache_seconds,
                              min_refresh_interval=external.jwks_min_refresh_seconds)
            issuers.append(Issuer(
                issuer=external.issuer, audience=external.audience or self.audience, keys=jwks,
                algorithms=algorithms, max_lifetime=external.max_token_lifetime,
                roles_claim=external.roles_claim, role_map=dict(external.role_map),
                participant_claim=external.participant_claim,
                scopes_from_roles=external.scopes_from_roles))
        self.issuers = IssuerRegistry(issuers)
        self.guard = ResourceGuard(issuers=self.issuers, store=self.store,
                                   dpop_replay=self.dpop_replay, clock=clock)

    def url(self, path: str) -> str:
        """An absolute URL of this connector for ``path``."""
        return self.public_url + path

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: every published access-token key (current and retiring)."""
        return {"keys": [key.jwk() for key, _ in self.local_keys.published()]}
