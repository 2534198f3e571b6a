"""Protected resources end to end, on SQLite and PostgreSQL: the HTTP half of the token-attack
suite, revocation and introspection, and the 401/403 challenges.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from auth_kit import BASE, Key, Registered, dpop_proof, get_token, make_app, register, token_form
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.auth.clients import disable_client

ME = BASE + "/api/v1/me"


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(app: FastAPI, token: str, *, header: dict[str, Any] | None = None,
           claims: dict[str, Any] | None = None, key: Any = None) -> str:
    """Re-sign ``token`` with changes, by default with the server's own current key."""
    old_header = jwt.get_unverified_header(token)
    old_claims = jwt.decode(token, options={"verify_signature": False})
    signing = key or app.state.runtime.keys.current("access-token").private_key
    new_header = {**old_header, **(header or {})}
    new_claims = {k: v for k, v in {**old_claims, **(claims or {})}.items() if v is not None}
    return jwt.encode(new_claims, signing, algorithm="EdDSA", headers=new_header)


def test_me_returns_the_principal(http: TestClient, partner: Registered) -> None:
    token = get_token(http, partner)["access_token"]
    response = http.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["participant"] == "did:web:partner.example"
    assert body["client_id"] == partner.client_id and body["roles"] == ["partner"]
    assert body["scopes"] == ["catalog", "negotiate", "transfer"]
    assert body["token_type"] == "Bearer" and body["issuer"] == BASE


def test_dpop_bound_token_with_proofs(http: TestClient, partner: Registered) -> None:
    dpop_key = Key.ed25519()
    token = get_token(http, partner, dpop_key=dpop_key)["access_token"]
    for _ in range(2):  # a fresh proof per request
        proof = dpop_proof(dpop_key, "GET", ME, access_token=token)
        response = http.get("/api/v1/me", headers={"Authorization": f"DPoP {token}",
                                                   "DPoP": proof})
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "DPoP"


def test_missing_token_gets_a_challenge_without_error(http: TestClient) -> None:
    response = http.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="connector"') and "error=" not in challenge
    assert 'DPoP realm="connector", algs="EdDSA ES256"' in challenge


def test_insufficient_scope_is_403_with_challenge(http: TestClient,
                                                   partner: Registered) -> None:
    token = get_token(http, partner)["access_token"]
    response = http.get("/api/v1/admin/clients", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:dodata:problem:insufficient-scope"
    assert response.headers["www-authenticate"] == (
        'Bearer realm="connector", error="insufficient_scope", '
        'error_description="this request needs scope admin", scope="admin"')


def test_a_token_for_fewer_scopes_than_its_roles_allow(app: FastAPI, http: TestClient) -> None:
    admin = register(app, ["admin", "partner"])
    token = get_token(http, admin, scope="catalog")["access_token"]
    assert http.get("/api/v1/admin/clients", headers=bearer(token)).status_code == 403
    token = get_token(http, admin, scope="admin")["access_token"]
    assert http.get("/api/v1/admin/clients", headers=bearer(token)).status_code == 200


Attack = Callable[[FastAPI, TestClient, Registered], dict[str, str]]


def _revoked(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    token = get_token(http, client)["access_token"]
    response = http.post("/oauth/revoke", data={**token_form(client), "token": token})
    assert response.status_code == 200
    return bearer(token)


def _disabled_client(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    token = get_token(http, client)["access_token"]
    with Session(app.state.runtime.engine) as session:
        disable_client(session=session, client_id=client.client_id)
    return bearer(token)


def _dpop_as_bearer(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    dpop_key = Key.es256()
    token = get_token(http, client, dpop_key=dpop_key)["access_token"]
    return {**bearer(token), "DPoP": dpop_proof(dpop_key, "GET", ME, access_token=token)}


def _dpop_replay(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    dpop_key = Key.es256()
    token = get_token(http, client, dpop_key=dpop_key)["access_token"]
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": dpop_proof(dpop_key, "GET", ME, access_token=token)}
    assert http.get("/api/v1/me", headers=headers).status_code == 200
    return headers


def _dpop_variant(**change: Any) -> Attack:
    def attack(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
        options = dict(change)
        dpop_key = Key.es256()
        token = get_token(http, client, dpop_key=dpop_key)["access_token"]
        proof_key = Key.es256() if options.pop("signer", None) == "other" else dpop_key
        htu = options.pop("htu", ME)
        htm = options.pop("htm", "GET")
        ath_token = options.pop("ath_token", token)
        proof = dpop_proof(proof_key, htm, htu, access_token=ath_token, **options)
        return {"Authorization": f"DPoP {token}", "DPoP": proof}
    return attack


def _bearer_as_dpop(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    token = get_token(http, client)["access_token"]
    return {"Authorization": f"DPoP {token}",
            "DPoP": dpop_proof(Key.es256(), "GET", ME, access_token=token)}


def _resigned(**change: Any) -> Attack:
    def attack(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
        token = get_token(http, client)["access_token"]
        return bearer(_forge(app, token, **change))
    return attack


def _tampered(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    token = get_token(http, client)["access_token"]
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    return bearer(f"{head}.{_b64(json.dumps(claims).encode())}.{sig}")


def _alg_none(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    token = get_token(http, client)["access_token"]
    head = jwt.get_unverified_header(token)
    payload = token.split(".")[1]
    return bearer(f"{_b64(json.dumps({**head, 'alg': 'none'}).encode())}.{payload}.")


def _two_headers(app: FastAPI, http: TestClient, client: Registered) -> dict[str, str]:
    return {"_duplicate": get_token(http, client)["access_token"]}


ATTACKS: dict[str, tuple[Attack, str]] = {
    "revoked token": (_revoked, "token has been revoked"),
    "token of a disabled client": (_disabled_client, "client is disabled"),
    "DPoP-bound token sent as Bearer": (_dpop_as_bearer, "token is DPoP-bound"),
    "DPoP proof replayed": (_dpop_replay, "jti has been used before"),
    "DPoP proof for another URL": (_dpop_variant(htu=BASE + "/api/v1/admin/clients"),
                                   "htu does not match"),
    "DPoP proof for another method": (_dpop_variant(htm="POST"), "htm does not match"),
    "DPoP proof by another key than cnf.jkt": (_dpop_variant(signer="other"),
                                               "does not match the token's cnf.jkt"),
    "DPoP proof for another token (ath)": (_dpop_variant(ath_token="some-other-token"),
                                           "ath does not match"),
    "DPoP proof without ath": (_dpop_variant(ath_token=None), "lacks the ath claim"),
    "DPoP proof too old": (_dpop_variant(iat=int(time.time()) - 600), "too old"),
    "unbound token with the DPoP scheme": (_bearer_as_dpop, "token is not DPoP-bound"),
    "payload tampered (scope raised)": (_tampered, "signature does not verify"),
    "alg none": (_alg_none, "header alg must be one of EdDSA"),
    "typ JWT instead of at+jwt": (_resigned(header={"typ": "JWT"}), "typ must be at+jwt"),
    "signed by an attacker key under our kid": (
        _resigned(key=ed25519.Ed25519PrivateKey.generate()), "signature does not verify"),
    "unknown kid": (_resigned(header={"kid": "no-such-kid"}), "no published key"),
    "jwk header names its own key": (_resigned(header={"jwk": {"kty": "OKP"}}),
                                     "jwk is refused"),
    "foreign issuer": (_resigned(claims={"iss": "https://evil.example"}),
                       "not a trusted issuer"),
    "other audience": (_resigned(claims={"aud": "https://other.example"}),
                       "aud does not include"),
    "expired": (_resigned(claims={"iat": int(time.time()) - 900,
                                  "exp": int(time.time()) - 600}), "expired"),
    "lifetime above ten minutes": (_resigned(claims={"exp": int(time.time()) + 3600}),
                                   "lifetime exceeds 600"),
    "no client_id": (_resigned(claims={"client_id": None}), "client_id is missing"),
    "no jti": (_resigned(claims={"jti": None}), "jti is missing"),
    "client_id of an unknown client": (_resigned(claims={"client_id": "ghost"}),
                                       "not registered"),
    "two Authorization headers": (_two_headers, "more than one Authorization header"),
}


@pytest.mark.parametrize("case", list(ATTACKS))
def test_token_attacks_are_refused(app: FastAPI, http: TestClient, partner: Registered,
                                   case: str) -> None:
    attack, reason = ATTACKS[case]
    headers = attack(app, http, partner)
    if "_duplicate" in headers:
        token = headers.pop("_duplicate")
        raw = [(b"authorization", f"Bearer {token}".encode())] * 2
        response = http.get("/api/v1/me", headers=raw)
    else:
        response = http.get("/api/v1/me", headers=headers)
    assert response.status_code == 401, (case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.split(" ")[0] in ("Bearer", "DPoP")
    assert 'error="invalid_token"' in challenge or 'error="invalid_dpop_proof"' in challenge
    assert reason in response.json()["detail"]
    assert "participant" not in response.text


def test_dpop_errors_answer_with_a_dpop_challenge(http: TestClient,
                                                  partner: Registered) -> None:
    headers = _dpop_variant(htm="POST")(http.app, http, partner)  # type: ignore[arg-type]
    response = http.get("/api/v1/me", headers=headers)
    assert response.headers["www-authenticate"].startswith(
        'DPoP realm="connector", error="invalid_dpop_proof", error_description="DPoP proof htm')
    assert response.json()["type"] == "urn:dodata:problem:invalid-dpop-proof"


def test_introspection(app: FastAPI, http: TestClient, partner: Registered) -> None:
    token = get_token(http, partner)["access_token"]
    body = http.post("/oauth/introspect", data={**token_form(partner), "token": token}).json()
    assert body["active"] is True and body["client_id"] == partner.client_id
    assert body["scope"] == "catalog negotiate transfer" and body["token_type"] == "Bearer"
    # Another client learns nothing about it; an admin client does.
    other = register(app, ["partner"])
    assert http.post("/oauth/introspect",
                     data={**token_form(other), "token": token}).json() == {"active": False}
    admin = register(app, ["admin"])
    assert http.post("/oauth/introspect",
                     data={**token_form(admin), "token": token}).json()["active"] is True
    assert http.post("/oauth/introspect", data={**token_form(partner),
                                                "token": "garbage"}).json() == {"active": False}
    # Without client authentication there is no answer at all.
    response = http.post("/oauth/introspect", data={"token": token})
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_revocation(http: TestClient, partner: Registered, app: FastAPI) -> None:
    token = get_token(http, partner)["access_token"]
    other = register(app, ["partner"])
    response = http.post("/oauth/revoke", data={**token_form(other), "token": token})
    assert response.json()["error"] == "invalid_grant"  # not its token
    assert http.get("/api/v1/me", headers=bearer(token)).status_code == 200
    for _ in range(2):  # idempotent
        response = http.post("/oauth/revoke", data={**token_form(partner), "token": token,
                                                    "token_type_hint": "access_token"})
        assert response.status_code == 200 and response.json() == {}
    assert http.get("/api/v1/me", headers=bearer(token)).status_code == 401
    body = http.post("/oauth/introspect", data={**token_form(partner), "token": token}).json()
    assert body == {"active": False}
    # RFC 7009 §2.2: an invalid token is answered with 200 as well.
    response = http.post("/oauth/revoke", data={**token_form(partner), "token": "nonsense"})
    assert response.status_code == 200
    response = http.post("/oauth/revoke", data={"token": token})
    assert response.json()["error"] == "invalid_client"
