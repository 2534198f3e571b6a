"""The client registry on SQLite and PostgreSQL, and the client as Authlib sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlmodel import Session

from connector import db
from connector.auth.clients import (
    RegisteredClient,
    check_client_jwks,
    create_client,
    disable_client,
    get_client,
    hash_secret,
    list_clients,
    verify_secret,
)
from connector.auth.dpop import jwk_thumbprint
from connector.errors import Conflict, Forbidden, NotFound, ValidationFailed


def ed_jwk() -> dict[str, Any]:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key))  # type: ignore[no-any-return]


def ec_jwk(curve: ec.EllipticCurve | None = None) -> dict[str, Any]:
    key = ec.generate_private_key(curve or ec.SECP256R1()).public_key()
    return json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))  # type: ignore[no-any-return]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def test_create_list_get_disable(session: Session) -> None:
    jwk = ed_jwk()
    record, secret = create_client(session=session, participant="did:web:p",
                                   roles=["partner", "provider"], jwks={"keys": [jwk]},
                                   dpop_bound=True)
    assert secret is None and record.client_id.startswith("c-")
    assert record.roles == ("partner", "provider") and record.dpop_bound
    assert record.jwks == {"keys": [{**jwk, "kid": jwk_thumbprint(jwk), "alg": "EdDSA",
                                     "use": "sig"}]}
    assert record.created_at.tzinfo is not None
    second, _ = create_client(session=session, participant="did:web:q", roles=["auditor"],
                              jwks={"keys": [{**ec_jwk(), "kid": "mine-1"}]},
                              client_id="auditor-app")
    assert [c.client_id for c in list_clients(session=session)] == [record.client_id,
                                                                    "auditor-app"]
    assert get_client(session=session, client_id="auditor-app") == second
    assert get_client(session=session, client_id="nope") is None
    disabled = disable_client(session=session, client_id="auditor-app")
    assert disabled.disabled and disabled.disabled_at is not None
    assert disable_client(session=session, client_id="auditor-app").disabled_at == \
        disabled.disabled_at
    with pytest.raises(NotFound):
        disable_client(session=session, client_id="nope")
    view = disabled.public_view()
    assert view["auth_methods"] == ["private_key_jwt"] and "secret_hash" not in view


def test_secrets_are_hashed_and_only_allowed_in_dev(session: Session) -> None:
    record, secret = create_client(session=session, participant="did:web:p", roles=["admin"],
                                   with_secret=True, secrets_allowed=True)
    assert secret and record.secret_hash == hash_secret(secret) and secret not in repr(record)
    assert verify_secret(record, secret) and not verify_secret(record, secret + "x")
    assert record.public_view()["auth_methods"] == ["client_secret_basic"]
    with pytest.raises(Forbidden, match="production"):
        create_client(session=session, participant="did:web:p", roles=["admin"],
                      with_secret=True, secrets_allowed=False)


def test_duplicate_client_id_is_a_conflict(session: Session) -> None:
    create_client(session=session, participant="p", roles=["partner"],
                  jwks={"keys": [ed_jwk()]}, client_id="same")
    with pytest.raises(Conflict):
        create_client(session=session, participant="p", roles=["partner"],
                      jwks={"keys": [ed_jwk()]}, client_id="same")
    # The failed insert left the session usable.
    assert [c.client_id for c in list_clients(session=session)] == ["same"]


@pytest.mark.parametrize(("kwargs", "path"), [
    ({"participant": ""}, "participant"),
    ({"participant": "has space"}, "participant"),
    ({"roles": []}, "roles"),
    ({"roles": ["superuser"]}, "roles"),
    ({"jwks": None}, "jwks"),
    ({"client_id": "x"}, "client_id"),
    ({"client_id": "bad/slash"}, "client_id"),
])
def test_create_client_validation(session: Session, kwargs: dict[str, Any], path: str) -> None:
    args: dict[str, Any] = {"participant": "did:web:p", "roles": ["partner"],
                            "jwks": {"keys": [ed_jwk()]}, **kwargs}
    with pytest.raises(ValidationFailed) as info:
        create_client(session=session, **args)
    assert info.value.extra["errors"][0]["path"] == path


@pytest.mark.parametrize(("jwks", "message"), [
    ([], "JSON object"),
    ({"keys": []}, "1 to 10"),
    ({"keys": ["x"]}, "JSON object"),
    ({"keys": [{**ed_jwk(), "d": "secret"}]}, "private key members"),
    ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "OKP Ed25519 or EC P-256"),
    ({"keys": [ec_jwk(ec.SECP384R1())]}, "OKP Ed25519 or EC P-256"),
    ({"keys": [{**ed_jwk(), "alg": "ES256"}]}, "alg does not fit"),
    ({"keys": [{**ed_jwk(), "use": "enc"}]}, "use must be sig"),
    ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA"}]}, "needs kty, crv, x, y"),
    ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}, "not a valid public key"),
    ({"keys": [{**ed_jwk(), "kid": "a b"}]}, "kid must match"),
    ({"keys": [{**ed_jwk(), "kid": "same"}, {**ec_jwk(), "kid": "same"}]}, "unique"),
])
def test_jwks_validation(jwks: Any, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        check_client_jwks(jwks)


def test_registered_client_for_authlib(session: Session) -> None:
    record, secret = create_client(session=session, participant="p", roles=["partner"],
                                   jwks={"keys": [ed_jwk()]}, with_secret=True,
                                   secrets_allowed=True)
    assert secret
    client = RegisteredClient(record)
    assert client.get_client_id() == record.client_id == client.client_id
    assert client.check_endpoint_auth_method("private_key_jwt", "token")
    assert client.check_endpoint_auth_method("client_secret_basic", "introspection")
    assert not client.check_endpoint_auth_method("client_secret_post", "token")
    assert not client.check_endpoint_auth_method("none", "token")
    assert client.check_grant_type("client_credentials")
    assert not client.check_grant_type("authorization_code")
    assert not client.check_response_type("code") and not client.check_redirect_uri("x")
    assert client.get_default_redirect_uri() is None
    assert client.get_allowed_scope("catalog admin") == "catalog"
    assert client.check_client_secret(secret) and not client.check_client_secret("x")
    off = RegisteredClient(disable_client(session=session, client_id=record.client_id))
    assert not off.check_endpoint_auth_method("private_key_jwt", "token")
    assert not off.check_client_secret(secret)
