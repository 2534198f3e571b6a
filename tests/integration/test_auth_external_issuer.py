"""Tokens of an external issuer (a Keycloak-style realm), validated like our own.

The issuer's JWKS is served over real HTTP from a thread; its tokens are real ES256 JWTs. Runs
on SQLite and PostgreSQL (revocation and disabled clients are checked for these tokens too).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from auth_kit import BASE, Key, make_app
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.auth import clients
from connector.auth.tokens import issue_access_token
from connector.config import ExternalIssuer

REALM = "https://idp.example/realms/dataspace"
REFRESH = 0.5


class Idp:
    """A JWKS endpoint that can rotate its keys and go down."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.down = False
        self.hits = 0
        self.rotate()

    def rotate(self) -> str:
        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid

    @property
    def current(self) -> str:
        return list(self.keys)[-1]

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
        # Keycloak also publishes an encryption key; it must be ignored.
        out.append({"kty": "RSA", "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP",
                    "n": "AQAB", "e": "AQAB"})
        return {"keys": out}

    def token(self, *, kid: str | None = None, roles: list[str] | None = None,
              **overrides: Any) -> str:
        kid = kid or self.current
        claims = {"realm_access": {"roles": roles if roles is not None
                                   else ["dataspace-partner", "offline_access"]},
                  "org": "did:web:partner.example"}
        issued = dict(private_key=self.keys[kid], kid=kid, alg="ES256", issuer=REALM,
                      audience=BASE, subject="service-account-acme", client_id="acme-app",
                      scope="catalog transfer profile", participant="ignored",
                      extra_claims=claims)
        issued.update(overrides)
        token, _ = issue_access_token(**issued)  # type: ignore[arg-type]
        return token


@pytest.fixture
def idp() -> Iterator[tuple[Idp, str]]:
    state = Idp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()
        server.server_close()


def _app(data_dir: Path, database_url: str, jwks_uri: str, **issuer: Any) -> FastAPI:
    config = ExternalIssuer(issuer=REALM, jwks_uri=jwks_uri, roles_claim="realm_access.roles",
                            role_map={"dataspace-partner": "partner"}, participant_claim="org",
                            algorithms=("ES256",), jwks_min_refresh_seconds=REFRESH, **issuer)
    return make_app(data_dir, database_url, external_issuers=[config])


@pytest.fixture
def http(data_dir: Path, database_url: str, idp: tuple[Idp, str]) -> Iterator[TestClient]:
    with TestClient(_app(data_dir, database_url, idp[1])) as client:
        yield client


def me(http: TestClient, token: str) -> Any:
    return http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_external_token_maps_to_a_principal(http: TestClient, idp: tuple[Idp, str]) -> None:
    response = me(http, idp[0].token())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issuer"] == REALM and body["client_id"] == "acme-app"
    assert body["participant"] == "did:web:partner.example"
    assert body["roles"] == ["partner"]  # offline_access is no connector role
    assert body["scopes"] == ["catalog", "transfer"]  # profile is no scope of the role


def test_rotation_at_the_idp_refreshes_on_unknown_kid(http: TestClient,
                                                      idp: tuple[Idp, str]) -> None:
    state, _ = idp
    assert me(http, state.token()).status_code == 200
    hits = state.hits
    assert me(http, state.token()).status_code == 200
    assert state.hits == hits  # cached
    state.rotate()
    time.sleep(REFRESH)
    assert me(http, state.token()).status_code == 200
    assert state.hits == hits + 1
    # A made-up kid right after: refused without hammering the IdP.
    forged = jwt.encode({"iss": REALM}, ec.generate_private_key(ec.SECP256R1()),
                        algorithm="ES256", headers={"kid": "k99", "typ": "at+jwt"})
    response = me(http, forged)
    assert response.status_code == 401 and "no key is known" in response.json()["detail"]
    assert state.hits == hits + 1


def test_unreachable_idp_is_503_then_recovers(data_dir: Path, database_url: str,
                                               idp: tuple[Idp, str]) -> None:
    state, uri = idp
    state.down = True
    with TestClient(_app(data_dir, database_url, uri)) as http:
        response = me(http, state.token())
        assert response.status_code == 503
        assert response.json()["type"] == "urn:dodata:problem:service-unavailable"
        state.down = False
        assert me(http, state.token()).status_code == 503  # no refetch before the interval
        time.sleep(REFRESH)
        assert me(http, state.token()).status_code == 200


@pytest.mark.parametrize(("change", "reason"), [
    ({"audience": "https://elsewhere.example"}, "aud does not include"),
    ({"lifetime": 3600}, "lifetime exceeds 600"),
    ({"client_id": ""}, "client_id must be a non-empty string"),
])
def test_external_tokens_are_checked_like_ours(http: TestClient, idp: tuple[Idp, str],
                                               change: dict[str, Any], reason: str) -> None:
    response = me(http, idp[0].token(**change))
    assert response.status_code == 401 and reason in response.json()["detail"]


def test_unpinned_algorithm_is_refused(http: TestClient, idp: tuple[Idp, str]) -> None:
    key = Key.ed25519()
    token, _ = issue_access_token(private_key=key.private, kid="k1", alg="EdDSA", issuer=REALM,
                                  audience=BASE, subject="s", client_id="acme-app",
                                  scope="catalog", participant="p")
    response = me(http, token)
    assert response.status_code == 401 and "alg must be one of ES256" in response.json()["detail"]


def test_missing_participant_claim_is_refused(http: TestClient, idp: tuple[Idp, str]) -> None:
    state, _ = idp
    token = state.token(extra_claims={"realm_access": {"roles": ["dataspace-partner"]}})
    response = me(http, token)
    assert response.status_code == 401 and "org is missing" in response.json()["detail"]


def test_registry_can_disable_an_external_client(http: TestClient,
                                                 idp: tuple[Idp, str]) -> None:
    runtime = http.app.state.runtime  # type: ignore[attr-defined]
    with Session(runtime.engine) as session:
        clients.create_client(session=session, participant="did:web:partner.example",
                              roles=["partner"], jwks=Key.es256().jwks(), client_id="acme-app")
        clients.disable_client(session=session, client_id="acme-app")
    response = me(http, idp[0].token())
    assert response.status_code == 401 and "disabled" in response.json()["detail"]


def test_scopes_from_roles(data_dir: Path, database_url: str, idp: tuple[Idp, str]) -> None:
    state, uri = idp
    with TestClient(_app(data_dir, database_url, uri, scopes_from_roles=True)) as http:
        body = me(http, state.token(scope="openid")).json()
        assert body["scopes"] == ["catalog", "negotiate", "transfer"]
