"""Token issuers the resource side trusts: this connector's own, and configured external ones.

Each issuer brings its key resolver, pinned algorithms, audience and the mapping from its claims
to a :class:`Principal`. The issuer of a presented token is picked by its (unverified) ``iss``;
the token is then validated against *that* issuer's configuration, so a token can never choose
its own keys or rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from connector.auth.errors import (
    InvalidClaim,
    MalformedToken,
    MissingClaim,
    UnknownIssuer,
    UnknownKey,
)
from connector.auth.keys import KeyStore, SigningKey
from connector.auth.principal import Principal
from connector.auth.scopes import ROLES, effective_scopes, scopes_for_roles
from connector.auth.tokens import (
    KeyResolver,
    PublicKey,
    b64url_decode,
    json_object,
    unverified_header,
)

ACCESS_TOKEN_PURPOSE: Final = "access-token"  # noqa: S105 - a key purpose


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``realm_access.roles``) in ``claims``, or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Issuer:
    """One trusted issuer and how its tokens become principals."""

    issuer: str
    audience: str
    keys: KeyResolver
    algorithms: tuple[str, ...] = ("EdDSA", "ES256")
    max_lifetime: int = 600
    roles_claim: str = "roles"
    role_map: Mapping[str, str] = field(default_factory=dict)
    participant_claim: str = "participant"
    scopes_from_roles: bool = False
    #: True for this connector's own AS: the token's client must be registered and enabled.
    local: bool = False

    def principal(self, claims: Mapping[str, Any], *, dpop_jkt: str | None) -> Principal:
        """Map validated ``claims`` to a principal; raise if the participant claim is unusable."""
        participant = claim_at(claims, self.participant_claim)
        if participant is None:
            raise MissingClaim(f"required claim {self.participant_claim} is missing",
                               claim=self.participant_claim)
        if not isinstance(participant, str) or not participant:
            raise InvalidClaim(f"claim {self.participant_claim} must be a non-empty string",
                               claim=self.participant_claim)
        raw_roles = claim_at(claims, self.roles_claim)
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        if not isinstance(raw_roles, list):
            raw_roles = []
        mapped = {self.role_map.get(role, role) for role in raw_roles if isinstance(role, str)}
        roles = frozenset(role for role in mapped if role in ROLES)
        scopes = (scopes_for_roles(roles) if self.scopes_from_roles
                  else effective_scopes(claims.get("scope"), roles))
        return Principal(participant=participant, client_id=claims["client_id"], roles=roles,
                         scopes=scopes, issuer=claims["iss"], subject=claims["sub"],
                         token_id=claims["jti"], expires_at=int(claims["exp"]),
                         dpop_jkt=dpop_jkt)


class IssuerRegistry:
    """Finds the configured issuer for a presented token."""

    def __init__(self, issuers: Sequence[Issuer]) -> None:
        self._by_iss = {issuer.issuer: issuer for issuer in issuers}

    def __iter__(self) -> Iterator[Issuer]:
        return iter(self._by_iss.values())

    def for_token(self, token: str) -> Issuer:
        """The issuer named by the token's ``iss``; raises ``UnknownIssuer`` or a shape error."""
        unverified_header(token, error=MalformedToken)
        payload = json_object(b64url_decode(token.split(".")[1]), error=MalformedToken,
                              what="payload")
        iss = payload.get("iss")
        if not isinstance(iss, str):
            raise MissingClaim("required claim iss is missing", claim="iss")
        issuer = self._by_iss.get(iss)
        if issuer is None:
            raise UnknownIssuer("iss is not a trusted issuer")
        return issuer


class PublishedKeyResolver:
    """Resolves this connector's own access-token keys: current, or retired but published.

    Keys are cached; an unknown kid reloads them from disk (a ``keys rotate`` by the CLI may
    have happened), at most once per ``min_reload_interval`` seconds.
    """

    def __init__(self, store: KeyStore, *, retention: float,
                 purpose: str = ACCESS_TOKEN_PURPOSE, min_reload_interval: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._purpose = purpose
        self._retention = retention
        self._min_interval = min_reload_interval
        self._clock = clock
        self._keys: dict[str, tuple[PublicKey, float | None]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def published(self) -> list[tuple[SigningKey, float | None]]:
        """The keys of the JWKS right now, each with the end of its publication (or None)."""
        return self._store.published(self._purpose, retention=self._retention,
                                     now=self._clock())

    def resolve(self, kid: str | None, iss: str) -> PublicKey:
        """The public key for ``kid``; raises ``UnknownKey`` if it is not published."""
        now = self._clock()
        if kid is None:
            raise UnknownKey("token has no kid")
        entry = self._keys.get(kid)
        if entry is None:
            # Under the lock, and the time stamped only once the keys are in: a request that
            # arrives while another is loading waits for the keys instead of finding none.
            with self._lock:
                entry = self._keys.get(kid)
                if entry is None and (self._loaded_at is None
                                      or now - self._loaded_at >= self._min_interval):
                    self._keys = {key.kid: (key.public_key, until)
                                  for key, until in self.published()}
                    self._loaded_at = now
                    entry = self._keys.get(kid)
        if entry is None or (entry[1] is not None and entry[1] <= now):
            raise UnknownKey("no published key for this kid")
        return entry[0]


class CurrentSigningKey:
    """The key that signs access tokens now, re-read only when the ``current`` pointer changes."""

    def __init__(self, store: KeyStore, *, purpose: str = ACCESS_TOKEN_PURPOSE) -> None:
        self._store = store
        self._purpose = purpose
        self._pointer = store.keys_dir / purpose / "current"
        self._cached: tuple[tuple[int, int, int], SigningKey] | None = None
        self._lock = threading.Lock()

    def get(self) -> SigningKey:
        """The current signing key (generating the first one if the store may)."""
        try:
            stat = self._pointer.stat()
            stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        except FileNotFoundError:
            stamp = None
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            key = self._store.current(self._purpose)
            stat = self._pointer.stat()
            self._cached = ((stat.st_mtime_ns, stat.st_ino, stat.st_size), key)
            return key
