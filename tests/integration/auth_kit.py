"""Helpers for the OAuth integration tests: client keys, assertions, DPoP proofs, a ready app.

Everything is real: EC P-256 / Ed25519 keys from ``cryptography``, JWTs signed with PyJWT, the
app on SQLite or PostgreSQL with its own data dir.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.app import create_app
from connector.auth import clients
from connector.config import Settings

BASE = "http://testserver"
TOKEN_URL = BASE + "/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Key:
    """A client's (or DPoP) private key with its public JWK."""

    private: Any
    alg: str
    jwk: dict[str, str]

    @classmethod
    def es256(cls) -> Key:
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        return cls(private, "ES256", {k: jwk[k] for k in ("kty", "crv", "x", "y")})

    @classmethod
    def ed25519(cls) -> Key:
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        return cls(private, "EdDSA", {k: jwk[k] for k in ("kty", "crv", "x")})

    @property
    def kid(self) -> str:
        from connector.auth.dpop import jwk_thumbprint

        return jwk_thumbprint(self.jwk)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.jwk, "kid": self.kid}]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=headers)


def assertion(key: Key, client_id: str, *, aud: str = TOKEN_URL, lifetime: int = 60,
              headers: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + lifetime,
            "jti": uuid.uuid4().hex, **claims}
    return key.sign({k: v for k, v in body.items() if v is not None},
                    {"kid": key.kid, **(headers or {})})


def dpop_proof(key: Key, htm: str, htu: str, *, access_token: str | None = None,
               **claims: Any) -> str:
    body: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu,
                            "iat": int(time.time())}
    if access_token is not None:
        body["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
    body.update(claims)
    return key.sign({k: v for k, v in body.items() if v is not None},
                    {"typ": "dpop+jwt", "jwk": key.jwk})


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"public_url": BASE, **overrides}
    return Settings(data_dir=data_dir, database_url=database_url, **values)


def make_app(data_dir: Path, database_url: str, **overrides: Any) -> FastAPI:
    return create_app(make_settings(data_dir, database_url, **overrides))


@dataclass
class Registered:
    """A client registered for a test, with its key."""

    client_id: str
    key: Key
    secret: str | None = None


def register(app: FastAPI, roles: list[str], *, dpop: bool = False, secret: bool = False,
             participant: str = "did:web:partner.example", key: Key | None = None) -> Registered:
    key = key or Key.es256()
    runtime = app.state.runtime
    with Session(runtime.engine) as session:
        record, generated = clients.create_client(
            session=session, participant=participant, roles=roles, jwks=key.jwks(),
            dpop_bound=dpop, with_secret=secret,
            secrets_allowed=runtime.settings.client_secrets_allowed)
    return Registered(record.client_id, key, generated)


def token_form(client: Registered, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(client.key, client.client_id), **extra}


def get_token(http: TestClient, client: Registered, *, dpop_key: Key | None = None,
              **extra: str) -> dict[str, Any]:
    headers = {"DPoP": dpop_proof(dpop_key, "POST", TOKEN_URL)} if dpop_key else {}
    response = http.post("/oauth/token", data=token_form(client, **extra), headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
