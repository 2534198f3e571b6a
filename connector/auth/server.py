"""The embedded authorization server on Authlib's framework-agnostic core — no web framework.

:class:`AuthorizationServerCore` registers the ``client_credentials`` grant, ``private_key_jwt``
client authentication (plus ``client_secret_basic`` outside production mode), RFC 7662
introspection and RFC 7009 revocation, and issues RFC 9068 JWT access tokens, DPoP-bound when
the token request carries a valid proof. A web framework subclasses it and supplies
``create_oauth2_request``, ``handle_response`` and ``send_signal`` (see ``api/oauth.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from connector.audit import log as audit_log
from connector.auth.assertion import PrivateKeyJwtAuthentication
from connector.auth.clients import ASSERTION_ALGS, ClientRecord, RegisteredClient, find_client
from connector.auth.context import (
    ACCESS_TOKEN_ALG,
    INTROSPECTION_PATH,
    JWKS_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    AuthContext,
)
from connector.auth.dpop import validate_dpop_proof
from connector.auth.errors import InvalidDpopProof
from connector.auth.grants import (
    ClientCredentials,
    Introspection,
    InvalidDpopProofError,
    IssuedToken,
    Revocation,
)
from connector.auth.resource import DPOP_ALGS
from connector.auth.scopes import ALL_SCOPES, grant_scopes
from connector.auth.tokens import (
    DEFAULT_MAX_LIFETIME,
    MAX_LEEWAY,
    issue_access_token,
    validate_access_token,
)
from connector.errors import InvalidToken

# Authlib logs issued tokens and assertion errors at DEBUG; nothing secret may reach a log.
logging.getLogger("authlib").setLevel(logging.WARNING)
#: Outside production mode the connector may listen on plain http on any host; Authlib's
#: transport check then sees this loopback URI instead (production keeps the real check).
_DEV_TRANSPORT_URI: Final = "http://127.0.0.1/"


class ConnectorOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth request built from already-parsed form data, whatever the web framework."""

    def __init__(self, *, method: str, uri: str, headers: Mapping[str, str],
                 form: dict[str, str], dpop_proofs: tuple[str, ...],
                 check_transport: bool) -> None:
        super().__init__(method=method, uri=uri if check_transport else _DEV_TRANSPORT_URI,
                         headers=headers)
        self.uri = uri
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.dpop_proofs = dpop_proofs
        self.granted_scopes: tuple[str, ...] = ()
        self.dpop_jkt: str | None = None

    @property
    def form(self) -> dict[str, str]:
        """The form parameters of the request body."""
        return self._form

    @property
    def args(self) -> dict[str, str]:
        """Query parameters play no part in these endpoints."""
        return {}


class AuthorizationServerCore(AuthorizationServer):  # type: ignore[misc]
    """Grants, client authentication, token issuance, introspection and revocation."""

    def __init__(self, context: AuthContext) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.context = context
        self.client_auth_methods = list(context.client_auth_methods)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwtAuthentication(
            token_endpoint=context.token_endpoint, store=context.store, clock=context.clock))
        self.register_grant(ClientCredentials)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        """The registered client (disabled ones too: their authentication fails later)."""
        record = find_client(self.context.store.engine, client_id)
        return RegisteredClient(record) if record is not None else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to store: access tokens are self-contained JWTs."""

    def authenticate_client(self, request: OAuth2Request, methods: list[str],
                            endpoint: str = "token") -> RegisteredClient:
        """Refuse a request that uses two authentication methods at once (RFC 6749 §2.3)."""
        has_basic = request.headers.get("Authorization", "").lower().startswith("basic ")
        if has_basic and "client_assertion" in request.form:
            raise InvalidRequestError("use one client authentication method, not two")
        client: RegisteredClient = super().authenticate_client(request, methods, endpoint)
        return client

    def check_token_request_dpop(self, request: ConnectorOAuth2Request,
                                 record: ClientRecord) -> str | None:
        """The jkt to bind the token to, from the request's DPoP proof (RFC 9449 §5)."""
        proofs = request.dpop_proofs
        if not proofs:
            if record.dpop_bound:
                raise InvalidDpopProofError("this client must send a DPoP proof")
            return None
        if len(proofs) != 1:
            raise InvalidDpopProofError("exactly one DPoP proof is required")
        try:
            result = validate_dpop_proof(proofs[0], htm="POST", htu=self.context.token_endpoint,
                                         now=self.context.clock(),
                                         replay=self.context.dpop_replay, allowed_algs=DPOP_ALGS)
        except InvalidDpopProof as exc:
            raise InvalidDpopProofError(exc.detail) from None
        return result.jkt

    def issue_token(self, record: ClientRecord, scopes: tuple[str, ...],
                    jkt: str | None) -> dict[str, Any]:
        """Sign an access token for ``record`` and return the token response body."""
        key = self.context.signing_key.get()
        scope = " ".join(scopes)
        token, claims = issue_access_token(
            private_key=key.private_key, kid=key.kid, alg=ACCESS_TOKEN_ALG,
            issuer=self.context.issuer, audience=self.context.audience,
            subject=record.client_id, client_id=record.client_id, scope=scope,
            participant=record.participant, lifetime=self.context.lifetime, cnf_jkt=jkt,
            now=self.context.clock(), extra_claims={"roles": list(record.roles)})
        # No token leaves without its audit entry; the entry names it by jti, never by value.
        with self.context.store.engine.begin() as conn:
            audit_log.append(conn, [{
                "type": "token.issued", "client_id": record.client_id,
                "participant": record.participant, "scope": scope, "jti": claims["jti"],
                "token_type": "DPoP" if jkt else "Bearer", "expires_at": claims["exp"]}])
        return {"access_token": token, "token_type": "DPoP" if jkt else "Bearer",
                "expires_in": self.context.lifetime, "scope": scope}

    def read_own_token(self, token: str) -> IssuedToken | None:
        """One of this server's unexpired tokens, with its status; None for anything else."""
        context = self.context
        try:
            claims = validate_access_token(token, keys=context.local_keys, issuer=context.issuer,
                                           audience=context.audience, now=context.clock(),
                                           allowed_algs=(ACCESS_TOKEN_ALG,),
                                           max_lifetime=DEFAULT_MAX_LIFETIME)
        except InvalidToken:
            return None
        status = context.store.token_status(claims["jti"], claims["client_id"])
        return IssuedToken(claims=claims, revoked=status.revoked,
                           client_active=status.client_known and not status.client_disabled)

    def revoke(self, token: IssuedToken) -> None:
        """Revoke ``token`` until it would have expired anyway."""
        claims = token.claims
        self.context.store.revoke(claims["jti"], claims["client_id"],
                                  float(claims["exp"]) + MAX_LEEWAY)

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata."""
        methods = list(self.client_auth_methods)
        algs = list(ASSERTION_ALGS)
        url = self.context.url
        return {
            "issuer": self.context.issuer,
            "token_endpoint": url(TOKEN_PATH),
            "jwks_uri": url(JWKS_PATH),
            "introspection_endpoint": url(INTROSPECTION_PATH),
            "revocation_endpoint": url(REVOCATION_PATH),
            "grant_types_supported": ["client_credentials"],
            # No authorization endpoint, so no response type at all.
            "response_types_supported": [],
            "scopes_supported": list(ALL_SCOPES),
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "dpop_signing_alg_values_supported": list(DPOP_ALGS),
        }

    def validate_scope_of(self, client: RegisteredClient, scope: str | None) -> tuple[str, ...]:
        """The scopes granted to ``client`` for the requested ``scope``."""
        try:
            return grant_scopes(scope, client.record.roles)
        except ValueError as exc:
            raise InvalidScopeError(str(exc)) from None
