"""The grant and endpoints registered on :class:`~connector.auth.server.AuthorizationServerCore`.

Each subclasses Authlib's implementation and only fills in what Authlib leaves to the server:
which client authentication methods count, how scopes are granted, how the DPoP proof binds the
token, and how a JWT access token is found for introspection and revocation. ``self.server`` is
the :class:`AuthorizationServerCore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import ClientCredentialsGrant, OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from connector.auth.clients import RegisteredClient

#: Token type hints are only hints: every token here is a JWT access token.
_HINTS = ("access_token", "refresh_token")


class InvalidDpopProofError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §5: the token request's DPoP proof is missing, invalid or replayed."""

    error = "invalid_dpop_proof"
    status_code = 400


@dataclass(frozen=True)
class IssuedToken:
    """One of this server's access tokens, as Authlib's token endpoints expect a token."""

    claims: dict[str, Any]
    revoked: bool
    client_active: bool

    def check_client(self, client: RegisteredClient) -> bool:
        """True if ``client`` is the client the token was issued to."""
        return bool(client.get_client_id() == self.claims["client_id"])

    def is_expired(self) -> bool:
        """Expired tokens never get this far (validation refuses them)."""
        return False

    def is_revoked(self) -> bool:
        """Revoked, or issued to a client that is now disabled: either way not active."""
        return self.revoked or not self.client_active

    def get_scope(self) -> str:
        """The token's scope string."""
        return str(self.claims.get("scope", ""))


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    """``client_credentials`` with role-based scopes and DPoP binding."""

    def authenticate_token_endpoint_client(self) -> RegisteredClient:
        """Authenticate with the methods this server allows (not Authlib's class default)."""
        client: RegisteredClient = self.server.authenticate_client(
            self.request, self.server.client_auth_methods)
        self.server.send_signal("after_authenticate_client", client=client, grant=self)
        return client

    def validate_token_request(self) -> None:
        """Authlib's checks, then the client's scopes and the DPoP proof."""
        super().validate_token_request()
        request: Any = self.request
        request.granted_scopes = self.server.validate_scope_of(self.client,
                                                               request.payload.scope)
        request.dpop_jkt = self.server.check_token_request_dpop(request, self.client.record)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Issue the token (nothing is logged: the body holds the token)."""
        request: Any = self.request
        token = self.server.issue_token(self.client.record, request.granted_scopes,
                                        request.dpop_jkt)
        self.server.send_signal("after_issue_token", client=self.client,
                                token_type=token["token_type"], scope=token["scope"])
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _AuthenticatesLikeTheServer:
    server: Any
    ENDPOINT_NAME: str

    def authenticate_endpoint_client(self, request: OAuth2Request) -> RegisteredClient:
        """Client authentication with the server's methods, as at the token endpoint."""
        client: RegisteredClient = self.server.authenticate_client(
            request, self.server.client_auth_methods, self.ENDPOINT_NAME)
        request.client = client
        return client


class Introspection(_AuthenticatesLikeTheServer, IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a client may introspect its own tokens; an admin client any token."""

    SUPPORTED_TOKEN_TYPES = _HINTS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        """The token if it is one of this server's unexpired tokens."""
        token: IssuedToken | None = self.server.read_own_token(token_string)
        return token

    def check_permission(self, token: IssuedToken, client: RegisteredClient,
                         request: OAuth2Request) -> bool:
        """Own tokens, or any token for an admin client; others read as inactive."""
        return token.check_client(client) or "admin" in client.record.roles

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        """RFC 7662 §2.2 members from the token's claims."""
        claims = token.claims
        names = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "participant",
                 "roles", "cnf")
        body: dict[str, Any] = {name: claims[name] for name in names if name in claims}
        return {"active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer", **body}


class Revocation(_AuthenticatesLikeTheServer, RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a client revokes its own access tokens."""

    SUPPORTED_TOKEN_TYPES = _HINTS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        """The token if it is one of this server's unexpired tokens (else nothing to do)."""
        token: IssuedToken | None = self.server.read_own_token(token_string)
        return token

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        """Put the token's jti on the revocation list."""
        self.server.revoke(token)
