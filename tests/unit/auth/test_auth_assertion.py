"""``private_key_jwt`` claim checks at a fixed time (RFC 7523 §3), with a stand-in jti store.

The database-backed jti store and the whole flow through Authlib run in
tests/integration/test_auth_token_endpoint.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from authlib.oauth2.rfc6749 import InvalidClientError

from connector.auth.assertion import ClientKeys, PrivateKeyJwtAuthentication

NOW = 1_790_000_000.0
TOKEN_URL = "https://connector.example/oauth/token"


class Seen:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, float]] = []

    def first_use(self, kind: str, owner: str, jti: str, expires_at: float) -> bool:
        fresh = all(r[:3] != (kind, owner, jti) for r in self.records)
        self.records.append((kind, owner, jti, expires_at))
        return fresh


def auth() -> tuple[PrivateKeyJwtAuthentication, Seen]:
    seen = Seen()
    method = PrivateKeyJwtAuthentication(token_endpoint=TOKEN_URL, store=seen,  # type: ignore[arg-type]
                                         clock=lambda: NOW)
    return method, seen


def claims(**change: Any) -> dict[str, Any]:
    base = {"iss": "c1", "sub": "c1", "aud": TOKEN_URL, "iat": NOW - 5, "exp": NOW + 55,
            "jti": "j1"}
    return {k: v for k, v in {**base, **change}.items() if v is not None}


def test_good_claims_record_the_jti_until_expiry_plus_leeway() -> None:
    method, seen = auth()
    method.verify_claims(claims())
    method.verify_claims(claims(aud=[TOKEN_URL, "https://other"], jti="j2"))
    assert seen.records[0] == ("assertion", "c1", "j1", NOW + 55 + 30)
    assert method.get_audiences() == [TOKEN_URL]


@pytest.mark.parametrize(("change", "message"), [
    ({"iss": None}, "iss and sub"),
    ({"sub": "c2"}, "iss and sub"),
    ({"aud": None}, "aud must be the token endpoint"),
    ({"aud": "https://connector.example"}, "aud must be the token endpoint"),
    ({"aud": ["https://connector.example"]}, "aud must be the token endpoint"),
    ({"exp": None}, "exp is missing"),
    ({"iat": None}, "iat is missing"),
    ({"exp": "soon"}, "exp is missing or not a number"),
    ({"exp": True}, "exp is missing or not a number"),
    ({"exp": NOW - 31}, "expired"),
    ({"iat": NOW + 31, "exp": NOW + 90}, "not valid yet"),
    ({"nbf": NOW + 31}, "not valid yet"),
    ({"iat": NOW - 5, "exp": NOW + 300}, "lifetime exceeds 300"),
    ({"iat": NOW + 25, "exp": NOW + 326}, "lifetime exceeds 300"),
    ({"jti": None}, "needs a jti"),
    ({"jti": ""}, "needs a jti"),
    ({"jti": "x" * 257}, "needs a jti"),
    ({"jti": 7}, "needs a jti"),
])
def test_bad_claims_are_invalid_client(change: dict[str, Any], message: str) -> None:
    method, _ = auth()
    with pytest.raises(InvalidClientError, match=message):
        method.verify_claims(claims(**change))


def test_clock_skew_within_leeway_is_accepted() -> None:
    method, _ = auth()
    method.verify_claims(claims(iat=NOW + 29, exp=NOW + 89))
    method.verify_claims(claims(iat=NOW - 120, exp=NOW - 29, jti="late"))


def test_a_replayed_jti_is_refused() -> None:
    method, _ = auth()
    method.verify_claims(claims())
    with pytest.raises(InvalidClientError, match="used before"):
        method.verify_claims(claims())


def test_key_selection() -> None:
    keys = ClientKeys({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
         "kid": "ed", "alg": "EdDSA", "use": "sig"}]})
    assert keys.select("ed", "EdDSA") is not None
    assert keys.select(None, "EdDSA") is not None
    for kid, alg, message in [("ed", "ES256", "does not fit"), ("nope", "EdDSA", "kid is not"),
                              (None, "ES256", "needs a kid"), (5, "EdDSA", "kid is not")]:
        with pytest.raises(InvalidClientError, match=message):
            keys.select(kid, alg)
