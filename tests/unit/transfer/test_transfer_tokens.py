"""Data-plane tokens: what they carry, and every way one fails to verify."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from connector.auth.keys import KeyStore, SigningKey
from connector.transfer import tokens
from connector.transfer.errors import DataTokenError

URL = "https://provider.example"


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return KeyStore(tmp_path / "keys", may_generate=True).current("access-token")


def _issue(key: SigningKey, **overrides: object) -> str:
    args: dict[str, object] = {"public_url": URL, "transfer": "urn:uuid:t", "agreement": "a",
                               "dataset": "d", "participant": "did:web:c.example"}
    return tokens.issue(key, **{**args, **overrides})  # type: ignore[arg-type]


def test_round_trip(key: SigningKey) -> None:
    token = _issue(key)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "edr+jwt" and header["kid"] == key.kid
    claims = tokens.verify(token, keys=[key], public_url=URL)
    assert (claims.transfer, claims.agreement, claims.dataset, claims.participant) == (
        "urn:uuid:t", "a", "d", "did:web:c.example")
    assert claims.expires_at - time.time() <= tokens.MAX_LIFETIME


def test_lifetime_is_capped_at_ten_minutes(key: SigningKey) -> None:
    claims = jwt.decode(_issue(key, lifetime=3600), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


def test_expiry(key: SigningKey) -> None:
    token = _issue(key, lifetime=60, now=1000.0)
    tokens.verify(token, keys=[key], public_url=URL, now=1060.0)
    with pytest.raises(DataTokenError, match="expired"):
        tokens.verify(token, keys=[key], public_url=URL, now=1070.0)


def test_other_keys_issuers_and_types_fail(key: SigningKey, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other", may_generate=True).current("access-token")
    token = _issue(key)
    with pytest.raises(DataTokenError, match="not signed by this connector"):
        tokens.verify(token, keys=[other], public_url=URL)
    with pytest.raises(DataTokenError, match="does not verify"):
        tokens.verify(token, keys=[key], public_url="https://elsewhere.example")
    at = jwt.encode({"x": 1}, key.private_key, algorithm="EdDSA",
                    headers={"typ": "at+jwt", "kid": key.kid})
    with pytest.raises(DataTokenError, match="not a data-plane token"):
        tokens.verify(at, keys=[key], public_url=URL)
    forged = jwt.encode({"transfer": "t"}, "secret-secret-secret-secret-32b!", algorithm="HS256",
                        headers={"typ": "edr+jwt", "kid": key.kid})
    with pytest.raises(DataTokenError):
        tokens.verify(forged, keys=[key], public_url=URL)
    with pytest.raises(DataTokenError, match="compact JWS"):
        tokens.verify("garbage", keys=[key], public_url=URL)


def test_missing_claims_fail(key: SigningKey) -> None:
    now = int(time.time())
    bare = jwt.encode({"iss": URL, "aud": tokens.audience(URL), "iat": now, "exp": now + 60,
                       "jti": "j", "transfer": "t"}, key.private_key, algorithm="EdDSA",
                      headers={"typ": "edr+jwt", "kid": key.kid})
    with pytest.raises(DataTokenError):
        tokens.verify(bare, keys=[key], public_url=URL)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic x", "Bearer a b", "bearer  "])
def test_bearer_header_shapes(header: str | None) -> None:
    with pytest.raises(DataTokenError):
        tokens.bearer(header)


def test_bearer_takes_the_token() -> None:
    assert tokens.bearer("Bearer abc") == "abc" and tokens.bearer("bearer abc") == "abc"
