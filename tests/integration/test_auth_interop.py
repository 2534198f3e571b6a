"""Interoperability: Authlib's own OAuth 2.0 client (httpx integration) against the real server.

The connector runs under uvicorn on a real port; the client is Authlib's ``OAuth2Client`` with
its ``PrivateKeyJWT`` client authentication, a client nobody here wrote. Authlib signs its
assertions with a one-hour lifetime by default, above the five minutes this server allows, so
the test first shows that default being refused, then shortens the lifetime through the
``sign`` hook Authlib provides for exactly that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from auth_kit import free_port
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey
from sqlmodel import Session

from connector.app import create_app
from connector.auth import clients
from connector.config import Settings
from connector.runtime import Runtime


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's PrivateKeyJWT with a 60-second assertion lifetime (its default is 3600)."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        return private_key_jwt_sign(auth.client_secret, client_id=auth.client_id,
                                    token_endpoint=token_endpoint, alg=self.alg,
                                    header=self.headers, expires_in=60)


@pytest.fixture
def server(data_dir: Path, database_url: str) -> Iterator[tuple[str, Runtime]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.start(Settings(data_dir=data_dir, database_url=database_url,
                                     public_url=base))
    config = uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port,
                            log_config=None, lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    try:
        yield base, runtime
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        runtime.close()


def _register(runtime: Runtime, key: ECKey, roles: list[str]) -> str:
    jwks = {"keys": [key.as_dict(private=False)]}
    with Session(runtime.engine) as session:
        record, _ = clients.create_client(session=session, participant="did:web:acme.example",
                                          roles=roles, jwks=jwks)
    return record.client_id


def test_authlib_client_obtains_and_uses_tokens(server: tuple[str, Runtime]) -> None:
    base, runtime = server
    token_endpoint = f"{base}/oauth/token"
    key = ECKey.generate_key("P-256")
    client_id = _register(runtime, key, ["partner"])

    stock = OAuth2Client(client_id, key, token_endpoint_auth_method="private_key_jwt")
    stock.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg="ES256"))
    with stock, pytest.raises(OAuthError, match="lifetime exceeds 300 seconds"):
        stock.fetch_token(token_endpoint, grant_type="client_credentials")

    client = OAuth2Client(client_id, key, token_endpoint_auth_method="private_key_jwt",
                          revocation_endpoint_auth_method="private_key_jwt",
                          scope="catalog transfer")
    client.register_client_auth_method(ShortLivedPrivateKeyJWT(token_endpoint, alg="ES256"))
    with client:
        token = client.fetch_token(token_endpoint, grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and token["scope"] == "catalog transfer"
        me = client.get(f"{base}/api/v1/me")
        assert me.status_code == 200
        assert me.json()["participant"] == "did:web:acme.example"
        assert me.json()["scopes"] == ["catalog", "transfer"]

        introspection = client.introspect_token(f"{base}/oauth/introspect",
                                                token=token["access_token"])
        assert introspection.json()["active"] is True
        revoked = client.revoke_token(f"{base}/oauth/revoke", token=token["access_token"])
        assert revoked.status_code == 200
        refused = client.get(f"{base}/api/v1/me")
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        # A second token for the same client, with a fresh assertion (new jti).
        client.fetch_token(token_endpoint, grant_type="client_credentials")
        assert client.get(f"{base}/api/v1/me").status_code == 200
