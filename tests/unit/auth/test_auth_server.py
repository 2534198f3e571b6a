"""Authorization server configuration: RFC 8414 metadata, settings of external issuers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from connector.auth.context import KEY_RETENTION, AuthContext
from connector.auth.errors import MalformedAuthorization, MissingToken
from connector.auth.keys import KeyStore
from connector.auth.resource import parse_authorization
from connector.auth.server import AuthorizationServerCore
from connector.config import ExternalIssuer, Settings
from connector.db import make_engine
from connector.errors import ConfigurationError


def context(tmp_path: Path, **settings: object) -> AuthContext:
    values = Settings(data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    return AuthContext(values, engine, KeyStore(tmp_path / "keys", may_generate=True))


def test_metadata_is_valid_rfc8414(tmp_path: Path) -> None:
    server = AuthorizationServerCore(context(tmp_path, public_url="https://hub.example",
                                             issuer="https://hub.example"))
    metadata = AuthorizationServerMetadata(server.metadata())
    # No authorization endpoint, so response_types_supported is honestly empty, which
    # Authlib's validator (written for servers that have one) would reject.
    for name in AuthorizationServerMetadata.REGISTRY_KEYS:
        if name != "response_types_supported":
            getattr(metadata, f"validate_{name}")()
    assert metadata["issuer"] == "https://hub.example"
    assert metadata["token_endpoint"] == "https://hub.example/oauth/token"
    assert "authorization_endpoint" not in metadata


def test_key_retention_covers_the_longest_token_and_the_leeway() -> None:
    assert KEY_RETENTION == 600 + 30


def test_external_issuers_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    issuers = [{"issuer": "https://kc.example/realms/ds", "jwks_uri":
                "https://kc.example/realms/ds/protocol/openid-connect/certs",
                "roles_claim": "realm_access.roles", "role_map": {"ds-partner": "partner"}}]
    monkeypatch.setenv("CONNECTOR_EXTERNAL_ISSUERS", json.dumps(issuers))
    monkeypatch.setenv("CONNECTOR_ACCESS_TOKEN_LIFETIME", "120")
    settings = Settings(data_dir=tmp_path)
    assert settings.access_token_lifetime == 120
    assert settings.external_issuers == [ExternalIssuer(**issuers[0])]  # type: ignore[arg-type]
    auth = AuthContext(settings, make_engine("sqlite://"), KeyStore(tmp_path, may_generate=True))
    assert [i.issuer for i in auth.issuers] == ["http://127.0.0.1:8080",
                                                "https://kc.example/realms/ds"]


@pytest.mark.parametrize(("settings", "message"), [
    ({"external_issuers": [{"issuer": "https://a", "jwks_uri": "https://a/k",
                            "algorithms": ["HS256"]}]}, "allowed_algs"),
    ({"external_issuers": [{"issuer": "http://127.0.0.1:8080", "jwks_uri": "x"}]},
     "configured twice"),
    ({"production": True, "database_url": "sqlite://", "public_url": "http://hub.example"},
     "https"),
])
def test_unsafe_configurations_are_refused(tmp_path: Path, settings: dict[str, object],
                                           message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        context(tmp_path, **settings)


def test_token_lifetime_is_capped_at_ten_minutes() -> None:
    with pytest.raises(ValueError, match="less than or equal to 600"):
        Settings(access_token_lifetime=601)


def test_parse_authorization() -> None:
    assert parse_authorization(["Bearer abc.def-_~+/="]) == ("bearer", "abc.def-_~+/=")
    assert parse_authorization(["dpop   x.y.z"]) == ("dpop", "x.y.z")
    with pytest.raises(MissingToken):
        parse_authorization([])
    for values in (["Basic dXNlcjpwdw=="], ["Bearer"], ["Bearer a b"], ["Bearer a", "Bearer b"],
                   ["Bearer ä"]):
        with pytest.raises(MalformedAuthorization):
            parse_authorization(values)
