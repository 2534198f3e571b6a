"""Trusted issuers: claim mapping, issuer selection, own key resolution and signing-key cache."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from connector.auth.errors import (
    InvalidClaim,
    MalformedToken,
    MissingClaim,
    UnknownIssuer,
    UnknownKey,
)
from connector.auth.issuers import (
    CurrentSigningKey,
    Issuer,
    IssuerRegistry,
    PublishedKeyResolver,
    claim_at,
)
from connector.auth.keys import KeyStore

CLAIMS: dict[str, Any] = {"iss": "https://idp", "sub": "s", "jti": "j", "exp": 2_000_000_000,
                          "client_id": "app", "scope": "catalog transfer profile admin",
                          "participant": "did:web:p", "roles": ["partner", "nobody"],
                          "realm_access": {"roles": ["dataspace-partner", "offline_access"]},
                          "org": {"id": "did:web:org"}}


class NoKeys:
    def resolve(self, kid: str | None, iss: str) -> Any:
        raise UnknownKey("none")


def issuer(**kwargs: Any) -> Issuer:
    return Issuer(issuer="https://idp", audience="https://rs", keys=NoKeys(), **kwargs)


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def seg(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{seg(header)}.{seg(payload)}.c2ln"


def test_claim_at_walks_dotted_paths() -> None:
    assert claim_at(CLAIMS, "realm_access.roles") == ["dataspace-partner", "offline_access"]
    assert claim_at(CLAIMS, "org.id") == "did:web:org"
    assert claim_at(CLAIMS, "org.id.deeper") is None
    assert claim_at(CLAIMS, "nothing.here") is None


def test_own_style_mapping_keeps_only_known_roles_and_granted_scopes() -> None:
    principal = issuer().principal(CLAIMS, dpop_jkt=None)
    assert principal.roles == {"partner"}
    assert principal.scopes == {"catalog", "transfer"}  # admin is claimed but not granted
    assert principal.participant == "did:web:p" and principal.client_id == "app"
    assert principal.as_json()["token_type"] == "Bearer"
    assert principal.has_role("partner") and principal.has_scopes("catalog")
    assert not principal.has_scopes("catalog", "admin")


def test_keycloak_style_mapping() -> None:
    mapped = issuer(roles_claim="realm_access.roles", participant_claim="org.id",
                    role_map={"dataspace-partner": "partner"})
    principal = mapped.principal(CLAIMS, dpop_jkt="jkt")
    assert principal.roles == {"partner"} and principal.participant == "did:web:org"
    assert principal.dpop_jkt == "jkt" and principal.as_json()["token_type"] == "DPoP"
    everything = issuer(roles_claim="realm_access.roles", scopes_from_roles=True,
                        role_map={"dataspace-partner": "partner"})
    assert everything.principal(CLAIMS, dpop_jkt=None).scopes == {"catalog", "negotiate",
                                                                  "transfer"}
    spaced = issuer(roles_claim="roles")
    assert spaced.principal({**CLAIMS, "roles": "auditor partner"},
                            dpop_jkt=None).roles == {"auditor", "partner"}
    assert spaced.principal({**CLAIMS, "roles": 7}, dpop_jkt=None).roles == frozenset()


def test_participant_claim_must_be_a_string() -> None:
    with pytest.raises(MissingClaim, match="participant"):
        issuer().principal({k: v for k, v in CLAIMS.items() if k != "participant"},
                           dpop_jkt=None)
    with pytest.raises(InvalidClaim):
        issuer().principal({**CLAIMS, "participant": ["x"]}, dpop_jkt=None)


def test_registry_picks_the_issuer_by_iss() -> None:
    one, two = issuer(), Issuer(issuer="https://other", audience="a", keys=NoKeys())
    registry = IssuerRegistry([one, two])
    header = {"alg": "ES256", "typ": "at+jwt"}
    assert registry.for_token(unsigned(header, {"iss": "https://other"})) is two
    assert list(registry) == [one, two]
    with pytest.raises(UnknownIssuer):
        registry.for_token(unsigned(header, {"iss": "https://evil"}))
    with pytest.raises(MissingClaim):
        registry.for_token(unsigned(header, {"iss": 5}))
    with pytest.raises(MalformedToken):
        registry.for_token("not-a-token")
    with pytest.raises(MalformedToken):
        registry.for_token(unsigned(header, {"iss": "x"}).replace(".", ".!", 1))


def test_published_key_resolver_follows_rotation_and_retention(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    old = store.current("access-token")
    now = [time.time()]
    resolver = PublishedKeyResolver(store, retention=630, clock=lambda: now[0],
                                    min_reload_interval=1.0)
    assert resolver.resolve(old.kid, "iss").public_bytes_raw() == \
        old.public_key.public_bytes_raw()
    new = store.rotate("access-token")
    retired = float((tmp_path / "access-token" / f"{old.kid}.retired").read_text())
    now[0] += 0.5  # within the reload interval: the new kid is not seen yet
    with pytest.raises(UnknownKey):
        resolver.resolve(new.kid, "iss")
    now[0] = retired + 2
    assert resolver.resolve(new.kid, "iss")
    assert resolver.resolve(old.kid, "iss")  # still published
    now[0] = retired + 631
    with pytest.raises(UnknownKey):
        resolver.resolve(old.kid, "iss")
    with pytest.raises(UnknownKey):
        resolver.resolve(None, "iss")


def test_concurrent_first_resolves_all_find_the_key(tmp_path: Path) -> None:
    """A fresh resolver hit by many requests at once: none may find an empty cache."""
    import threading

    store = KeyStore(tmp_path, may_generate=True)
    key = store.current("access-token")
    resolver = PublishedKeyResolver(store, retention=630, min_reload_interval=60.0)
    loading = resolver.published

    def slow_published() -> Any:
        time.sleep(0.05)  # widen the window a second request could fall into
        return loading()

    resolver.published = slow_published  # type: ignore[method-assign]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def resolve() -> None:
        barrier.wait()
        try:
            resolver.resolve(key.kid, "iss")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_current_signing_key_rereads_only_after_a_rotation(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    current = CurrentSigningKey(store)
    first = current.get()
    assert current.get() is first  # cached: nothing changed on disk
    rotated = KeyStore(tmp_path, may_generate=False).rotate("access-token")  # "another process"
    assert current.get().kid == rotated.kid


def test_current_signing_key_generates_the_first_key(tmp_path: Path) -> None:
    key = CurrentSigningKey(KeyStore(tmp_path, may_generate=True)).get()
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
