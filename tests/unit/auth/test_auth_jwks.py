"""External issuers' JWKS: parsing, TTL, refresh on unknown kid, rate limit, outages.

The fetch function is a stand-in here (error paths and timing); a real HTTP JWKS server is
used in tests/integration/test_auth_external_issuer.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from connector.auth.errors import JwksUnavailable, UnknownKey
from connector.auth.jwks import RemoteJwks, http_fetch, parse_jwks


def ec_jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key)), "kid": kid}


def ed_jwk(kid: str) -> dict[str, Any]:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return {**json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key)), "kid": kid}


class FakeIdp:
    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.calls = 0
        self.fail = False

    def __call__(self, uri: str) -> Any:
        self.calls += 1
        if self.fail:
            raise httpx.ConnectError("down")
        return {"keys": self.keys}


def test_parse_jwks_skips_what_cannot_verify() -> None:
    private = {**ec_jwk("p"), "d": "AAAA"}
    doc = {"keys": [ec_jwk("a"), ed_jwk("b"), {**ec_jwk("c"), "use": "enc"}, {"kty": "EC"},
                    {**ec_jwk("x"), "kid": 5}, private, "junk",
                    {"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}]}
    assert sorted(parse_jwks(doc)) == ["a", "b"]
    with pytest.raises(ValueError, match="keys"):
        parse_jwks({"nokeys": []})
    with pytest.raises(ValueError):
        parse_jwks([1, 2])


def test_cache_ttl_and_refresh_on_unknown_kid() -> None:
    idp = FakeIdp(ec_jwk("k1"))
    now = [0.0]
    jwks = RemoteJwks("https://idp/certs", fetch=idp, ttl=300, min_refresh_interval=10,
                      clock=lambda: now[0])
    assert jwks.resolve("k1", "iss") and idp.calls == 1
    now[0] = 5
    assert jwks.resolve("k1", "iss") and idp.calls == 1
    idp.keys.append(ec_jwk("k2"))
    with pytest.raises(UnknownKey):  # within the refresh interval: no new fetch
        jwks.resolve("k2", "iss")
    assert idp.calls == 1
    now[0] = 11
    assert jwks.resolve("k2", "iss") and idp.calls == 2
    now[0] = 12
    with pytest.raises(UnknownKey):
        jwks.resolve("k3", "iss")
    assert idp.calls == 2
    now[0] = 400  # ttl passed: refetch even for a known kid
    jwks.resolve("k1", "iss")
    assert idp.calls == 3


def test_no_kid_works_only_with_a_single_key() -> None:
    single = RemoteJwks("u", fetch=FakeIdp(ec_jwk("only")), clock=lambda: 0.0)
    assert single.resolve(None, "iss")
    double = RemoteJwks("u", fetch=FakeIdp(ec_jwk("a"), ec_jwk("b")), clock=lambda: 0.0)
    with pytest.raises(UnknownKey):
        double.resolve(None, "iss")


def test_outage_keeps_the_last_good_keys_and_first_outage_is_unavailable() -> None:
    idp = FakeIdp(ec_jwk("k1"))
    idp.fail = True
    now = [0.0]
    jwks = RemoteJwks("u", fetch=idp, ttl=60, min_refresh_interval=10, clock=lambda: now[0])
    with pytest.raises(JwksUnavailable):
        jwks.resolve("k1", "iss")
    with pytest.raises(JwksUnavailable):  # no refetch storm either
        jwks.resolve("k1", "iss")
    assert idp.calls == 1
    now[0] = 10
    idp.fail = False
    assert jwks.resolve("k1", "iss")
    idp.fail = True
    now[0] = 100  # stale, refresh fails: the stale keys keep working
    assert jwks.resolve("k1", "iss") and idp.calls == 3


def test_http_fetch_refuses_errors_and_huge_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, content=b"{" + b" " * 300_000 + b"}")
        if request.url.path == "/err":
            return httpx.Response(500)
        return httpx.Response(200, json={"keys": []})

    transport = httpx.MockTransport(handler)

    def get(url: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(transport=transport) as client:
            return client.get(url, headers=kwargs.get("headers"))

    monkeypatch.setattr(httpx, "get", get)
    assert http_fetch("http://idp/ok") == {"keys": []}
    with pytest.raises(ValueError, match="too large"):
        http_fetch("http://idp/big")
    with pytest.raises(httpx.HTTPStatusError):
        http_fetch("http://idp/err")
