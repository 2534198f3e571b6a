"""Public keys of an external issuer, fetched from its JWKS URL and cached.

The cache is refreshed when it is older than its TTL, and early when a token names a ``kid``
it does not hold (the issuer rotated), but never more often than ``min_refresh_interval`` so a
stream of made-up kids cannot turn the connector into a load generator against the IdP. When
the IdP is unreachable, the last good key set keeps working.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx
import jwt

from connector.auth.errors import JwksUnavailable, UnknownKey
from connector.auth.tokens import PublicKey

log = logging.getLogger("connector.auth.jwks")
Fetch = Callable[[str], Any]
MAX_JWKS_BYTES: Final = 256 * 1024


def http_fetch(uri: str, *, timeout: float = 5.0) -> Any:
    """GET ``uri`` and return its JSON; redirects are not followed."""
    response = httpx.get(uri, timeout=timeout, follow_redirects=False,
                         headers={"accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    return response.json()


def parse_jwks(document: Any) -> dict[str, PublicKey]:
    """The signature keys of a JWKS document by kid; keys that cannot verify are skipped.

    Skipped: keys with ``use`` other than ``sig``, without a string ``kid``, with private
    members, or of a type PyJWT cannot load. Raises ``ValueError`` if the document is not
    a JWKS at all.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('JWKS must be a JSON object with a "keys" list')
    keys: dict[str, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or "d" in jwk:
            continue
        try:
            key = jwt.PyJWK(dict(jwk)).key
        except (jwt.exceptions.PyJWTError, ValueError, TypeError):
            continue
        keys[kid] = key
    return keys


class RemoteJwks:
    """A ``KeyResolver`` over one issuer's JWKS URL, with TTL and unknown-kid refresh."""

    def __init__(self, uri: str, *, fetch: Fetch | None = None, ttl: float = 300.0,
                 min_refresh_interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.uri = uri
        self._fetch: Fetch = fetch or http_fetch
        self._ttl = ttl
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._keys: dict[str, PublicKey] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def resolve(self, kid: str | None, iss: str) -> PublicKey:
        """The key for ``kid``; ``UnknownKey`` if none, ``JwksUnavailable`` if no keys at all."""
        now = self._clock()
        stale = self._keys is None or now - self._fetched_at >= self._ttl
        if stale and self._may_refresh(now):
            self._refresh(now)
        if self._keys is None:
            raise JwksUnavailable("the token issuer's keys cannot be fetched")
        key = self._lookup(kid)
        if key is None and self._may_refresh(now):
            self._refresh(now)
            key = self._lookup(kid)
        if key is None:
            raise UnknownKey("no key is known for this kid")
        return key

    def _lookup(self, kid: str | None) -> PublicKey | None:
        keys = self._keys or {}
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def _may_refresh(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_interval

    def _refresh(self, now: float) -> None:
        with self._lock:
            if self._attempted_at is not None and self._attempted_at >= now:
                return  # another thread refreshed while this one waited
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = parse_jwks(self._fetch(self.uri))
            except (httpx.HTTPError, ValueError) as exc:
                # The last good key set (if any) keeps working until the IdP is back.
                log.warning("jwks fetch failed", extra={"jwks_uri": self.uri,
                                                        "error": type(exc).__name__})
                return
            self._keys = keys
            self._fetched_at = now
