"""The token endpoint end to end, on SQLite and PostgreSQL: grants, DPoP binding, RFC 6749 errors.

Half of the HTTP-level token-attack suite lives here (client authentication and token requests);
the resource side is in ``test_auth_resource.py``.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from auth_kit import (
    ASSERTION_TYPE,
    BASE,
    TOKEN_URL,
    Key,
    Registered,
    assertion,
    dpop_proof,
    get_token,
    make_app,
    make_settings,
    register,
    token_form,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.auth.clients import disable_client, hash_secret
from connector.auth.context import AuthContext
from connector.auth.dpop import jwk_thumbprint
from connector.auth.keys import KeyStore
from connector.auth.models import OAuthClient
from connector.db import make_engine
from connector.errors import ConfigurationError, Forbidden


@pytest.fixture
def app(data_dir: Path, database_url: str) -> FastAPI:
    return make_app(data_dir, database_url)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def partner(app: FastAPI, http: TestClient) -> Registered:
    return register(app, ["partner"])


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_client_credentials_with_private_key_jwt(http: TestClient, partner: Registered) -> None:
    response = http.post("/oauth/token", data=token_form(partner))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["scope"] == "catalog negotiate transfer"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA"
    claims = _claims(body["access_token"])
    assert claims["iss"] == BASE and claims["aud"] == BASE
    assert claims["sub"] == claims["client_id"] == partner.client_id
    assert claims["participant"] == "did:web:partner.example"
    assert claims["exp"] - claims["iat"] == 300 and claims["roles"] == ["partner"]
    assert {"jti", "scope"} <= claims.keys() and "cnf" not in claims
    jwks = http.get("/oauth/jwks").json()
    assert header["kid"] in [key["kid"] for key in jwks["keys"]]


def test_ed25519_client_key_works_too(app: FastAPI, http: TestClient) -> None:
    client = register(app, ["auditor"], key=Key.ed25519())
    assert get_token(http, client)["scope"] == "audit"


def test_requested_scope_narrows_the_token(http: TestClient, partner: Registered) -> None:
    assert get_token(http, partner, scope="catalog")["scope"] == "catalog"


def test_dpop_proof_binds_the_token(http: TestClient, partner: Registered) -> None:
    dpop_key = Key.ed25519()
    body = get_token(http, partner, dpop_key=dpop_key)
    assert body["token_type"] == "DPoP"
    assert _claims(body["access_token"])["cnf"] == {"jkt": jwk_thumbprint(dpop_key.jwk)}


def test_dpop_bound_client_gets_dpop_tokens(app: FastAPI, http: TestClient) -> None:
    client = register(app, ["partner"], dpop=True)
    assert get_token(http, client, dpop_key=Key.es256())["token_type"] == "DPoP"


def test_client_secret_basic_outside_production(app: FastAPI, http: TestClient) -> None:
    client = register(app, ["partner"], secret=True)
    assert client.secret
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    wrong = base64.b64encode(f"{client.client_id}:nope".encode()).decode()
    response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {wrong}"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_production_refuses_client_secrets(data_dir: Path, database_url: str) -> None:
    public = "https://connector.example"
    app = make_app(data_dir, database_url, production=True, allow_generated_keys=True,
                   public_url=public)
    with TestClient(app) as http:
        meta = http.get("/.well-known/oauth-authorization-server").json()
        assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
        client = register(app, ["partner"])
        # A secret smuggled into the table by hand still does not work in production mode.
        with Session(app.state.runtime.engine) as session:
            row = session.get(OAuthClient, client.client_id)
            assert row is not None
            row.secret_hash = hash_secret("s3cret")
            session.add(row)
            session.commit()
        basic = base64.b64encode(f"{client.client_id}:s3cret".encode()).decode()
        response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": f"Basic {basic}"})
        assert response.status_code == 400 and response.json()["error"] == "invalid_client"
        form = token_form(client)
        form["client_assertion"] = assertion(client.key, client.client_id,
                                             aud=public + "/oauth/token")
        assert http.post("/oauth/token", data=form).status_code == 200
        with pytest.raises(Forbidden, match="not allowed in production"):
            register(app, ["partner"], secret=True)


def test_production_needs_an_https_public_url(data_dir: Path, database_url: str) -> None:
    settings = make_settings(data_dir, database_url, production=True,
                             public_url="http://connector.example")
    engine = make_engine(database_url)
    try:
        with pytest.raises(ConfigurationError, match="https"):
            AuthContext(settings, engine, KeyStore(data_dir / "keys", may_generate=True))
    finally:
        engine.dispose()


def _foreign_key_assertion(c: Registered) -> str:
    other = Key.es256()
    now = int(time.time())
    return other.sign({"iss": c.client_id, "sub": c.client_id, "aud": TOKEN_URL, "iat": now,
                       "exp": now + 60, "jti": uuid.uuid4().hex}, {"kid": c.key.kid})


def _hs256_confusion(c: Registered) -> str:
    # Sign with HMAC, using the client's public JWK as the "secret" (alg confusion).
    now = int(time.time())
    claims = {"iss": c.client_id, "sub": c.client_id, "aud": TOKEN_URL, "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, str(c.key.jwk).encode() * 4, algorithm="HS256",
                      headers={"kid": c.key.kid})


BAD_ASSERTIONS: dict[str, tuple[Callable[[Registered], str], str]] = {
    "wrong aud (issuer, not the token endpoint)": (
        lambda c: assertion(c.key, c.client_id, aud=BASE), "aud must be the token endpoint"),
    "aud of another server": (
        lambda c: assertion(c.key, c.client_id, aud="https://evil.example/oauth/token"),
        "aud must be the token endpoint"),
    "lifetime above five minutes": (
        lambda c: assertion(c.key, c.client_id, lifetime=900), "lifetime exceeds 300"),
    "expired": (lambda c: assertion(c.key, c.client_id, iat=int(time.time()) - 400,
                                    exp=int(time.time()) - 100), "has expired"),
    "issued in the future": (lambda c: assertion(c.key, c.client_id,
                                                 iat=int(time.time()) + 120,
                                                 exp=int(time.time()) + 180), "not valid yet"),
    "no jti": (lambda c: assertion(c.key, c.client_id, jti=None), "needs a jti"),
    "no exp": (lambda c: assertion(c.key, c.client_id, exp=None), "claim exp is missing"),
    "iss differs from sub": (lambda c: assertion(c.key, c.client_id, iss="someone-else"),
                             "iss and sub must both be the client_id"),
    "signed by an unregistered key": (_foreign_key_assertion, "signature does not verify"),
    "HS256 with the public key as secret": (_hs256_confusion, "alg must be one of EdDSA, ES256"),
    "jwk header injects the key": (lambda c: assertion(c.key, c.client_id,
                                                       headers={"jwk": c.key.jwk}),
                                   "header parameter jwk is refused"),
    "unknown kid": (lambda c: assertion(c.key, c.client_id, headers={"kid": "not-a-key"}),
                    "kid is not a registered key"),
    "unknown client": (lambda c: assertion(c.key, "no-such-client"), "does not exist"),
    "not a JWT": (lambda c: "not.a.jwt", "not a well-formed JWT"),
}


@pytest.mark.parametrize("case", list(BAD_ASSERTIONS))
def test_bad_client_assertions_are_invalid_client(http: TestClient, partner: Registered,
                                                  case: str) -> None:
    make, reason = BAD_ASSERTIONS[case]
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make(partner)}
    response = http.post("/oauth/token", data=form)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client", case
    assert reason in response.json()["error_description"]


def test_replayed_client_assertion_is_refused(http: TestClient, partner: Registered) -> None:
    form = token_form(partner)
    assert http.post("/oauth/token", data=form).status_code == 200
    replay = http.post("/oauth/token", data=form)
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_client",
                             "error_description": "client assertion jti has been used before "
                                                  "(replay)"}


def test_disabled_client_gets_no_token(app: FastAPI, http: TestClient,
                                       partner: Registered) -> None:
    with Session(app.state.runtime.engine) as session:
        disable_client(session=session, client_id=partner.client_id)
    response = http.post("/oauth/token", data=token_form(partner))
    assert response.json() == {"error": "invalid_client",
                               "error_description": "client is disabled"}


@pytest.mark.parametrize(("extra", "error"), [
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ({"scope": "admin"}, "invalid_scope"),
    ({"scope": "catalog superpowers"}, "invalid_scope"),
])
def test_token_request_errors(http: TestClient, partner: Registered, extra: dict[str, str],
                              error: str) -> None:
    response = http.post("/oauth/token", data=token_form(partner, **extra))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_dpop_bound_client_without_proof_is_refused(app: FastAPI, http: TestClient) -> None:
    client = register(app, ["partner"], dpop=True)
    response = http.post("/oauth/token", data=token_form(client))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize("proof", [
    lambda k: dpop_proof(k, "POST", BASE + "/api/v1/me"),          # wrong htu
    lambda k: dpop_proof(k, "GET", TOKEN_URL),                     # wrong htm
    lambda k: dpop_proof(k, "POST", TOKEN_URL, iat=int(time.time()) - 3600),  # stale
    lambda k: "a.b.c",                                             # garbage
])
def test_invalid_dpop_proof_at_token_endpoint(http: TestClient, partner: Registered,
                                              proof: Callable[[Key], str]) -> None:
    response = http.post("/oauth/token", data=token_form(partner),
                         headers={"DPoP": proof(Key.es256())})
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof"


def test_dpop_proof_replay_at_token_endpoint(http: TestClient, partner: Registered) -> None:
    proof = dpop_proof(Key.es256(), "POST", TOKEN_URL)
    assert http.post("/oauth/token", data=token_form(partner),
                     headers={"DPoP": proof}).status_code == 200
    again = http.post("/oauth/token", data=token_form(partner), headers={"DPoP": proof})
    assert again.json()["error"] == "invalid_dpop_proof"


def test_malformed_token_requests(http: TestClient, partner: Registered) -> None:
    form = token_form(partner)
    repeated = "&".join(f"{k}={v}" for k, v in form.items()) + "&grant_type=client_credentials"
    response = http.post("/oauth/token", content=repeated,
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.json()["error"] == "invalid_request"
    assert http.post("/oauth/token", json=form).json()["error"] == "invalid_request"
    bad_utf8 = http.post("/oauth/token", content=b"grant_type=%ff%fe",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert bad_utf8.json()["error"] == "invalid_request"
    empty = http.post("/oauth/token", content=b"",
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert empty.json() == {"error": "invalid_request",
                            "error_description": "grant_type is required"}


def test_two_client_authentication_methods_are_refused(app: FastAPI, http: TestClient) -> None:
    client = register(app, ["partner"], secret=True)
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    response = http.post("/oauth/token", data=token_form(client),
                         headers={"Authorization": f"Basic {basic}"})
    assert response.json()["error"] == "invalid_request"


def test_metadata_describes_the_server(http: TestClient) -> None:
    meta = http.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == BASE and meta["token_endpoint"] == TOKEN_URL
    assert meta["jwks_uri"] == BASE + "/oauth/jwks"
    assert meta["introspection_endpoint"] == BASE + "/oauth/introspect"
    assert meta["revocation_endpoint"] == BASE + "/oauth/revoke"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt",
                                                             "client_secret_basic"]
    assert meta["dpop_signing_alg_values_supported"] == ["EdDSA", "ES256"]
