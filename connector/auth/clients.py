"""The client registry: create, list, read and disable OAuth clients.

A client belongs to one participant, holds roles, and authenticates with ``private_key_jwt``
against the public keys registered here (the production way) or, outside production mode, with
a generated secret of which only a SHA-256 hash is stored. Secrets are 256-bit random values,
so a fast hash is enough: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.audit import log as audit_log
from connector.auth.dpop import jwk_thumbprint
from connector.auth.models import OAuthClient
from connector.auth.scopes import check_roles, scopes_for_roles
from connector.errors import Conflict, Forbidden, NotFound, ValidationFailed
from connector.timeutil import utcnow

CLIENT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{3,64}")
#: Algorithms a client may sign its assertions with, and the key each needs.
ASSERTION_ALGS: Final = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
MAX_KEYS: Final = 10
_PUBLIC_MEMBERS: Final = {"OKP": ("kty", "crv", "x"), "EC": ("kty", "crv", "x", "y")}
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_SECRET_PREFIX: Final = "sha256:"  # noqa: S105 - a hash label


@dataclass(frozen=True)
class ClientRecord:
    """A registered client as the rest of the connector sees it."""

    client_id: str
    participant: str
    roles: tuple[str, ...]
    jwks: dict[str, Any] | None
    dpop_bound: bool
    disabled: bool
    created_at: datetime
    disabled_at: datetime | None = None
    secret_hash: str | None = field(default=None, repr=False)

    @property
    def has_secret(self) -> bool:
        """True if the client may use ``client_secret_basic`` (dev mode only)."""
        return self.secret_hash is not None

    def public_view(self) -> dict[str, Any]:
        """The client as JSON for the CLI and the admin API (never the secret hash)."""
        return {"client_id": self.client_id, "participant": self.participant,
                "roles": list(self.roles), "dpop_bound": self.dpop_bound,
                "auth_methods": (["private_key_jwt"] if self.jwks else [])
                + (["client_secret_basic"] if self.has_secret else []),
                "jwks": self.jwks, "disabled": self.disabled,
                "created_at": self.created_at.isoformat(),
                "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None}


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _record(row: OAuthClient | Row[Any]) -> ClientRecord:
    return ClientRecord(client_id=row.client_id, participant=row.participant,
                        roles=tuple(row.roles), jwks=row.jwks, dpop_bound=row.dpop_bound,
                        disabled=row.disabled, created_at=_utc(row.created_at) or utcnow(),
                        disabled_at=_utc(row.disabled_at), secret_hash=row.secret_hash)


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"path": path, "message": message,
                                              "kind": "value_error"}])


def _check_jwk(jwk: Any, index: int) -> dict[str, str]:
    path = f"jwks.keys.{index}"
    if not isinstance(jwk, Mapping):
        raise _invalid(path, "a key must be a JSON object")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise _invalid(path, "a key must be public: private key members are refused")
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    algs = [name for name, fits in ASSERTION_ALGS.items() if fits == (kty, crv)]
    if not algs:
        raise _invalid(path, "keys must be OKP Ed25519 or EC P-256")
    if alg is not None and alg not in algs:
        raise _invalid(path, f"alg does not fit a {kty} {crv} key")
    if jwk.get("use", "sig") != "sig":
        raise _invalid(path, "use must be sig")
    members = _PUBLIC_MEMBERS[str(kty)]
    if not all(isinstance(jwk.get(name), str) for name in members):
        raise _invalid(path, f"a {kty} key needs {', '.join(members)}")
    clean = {name: str(jwk[name]) for name in members}
    try:
        jwt.PyJWK(clean, algorithm=algs[0])
    except (jwt.exceptions.PyJWTError, ValueError):
        raise _invalid(path, "not a valid public key") from None
    kid = jwk.get("kid", jwk_thumbprint(clean))
    if not isinstance(kid, str) or not CLIENT_ID_PATTERN.fullmatch(kid):
        raise _invalid(path, "kid must match [A-Za-z0-9._-]{3,64}")
    return {**clean, "kid": kid, "alg": algs[0], "use": "sig"}


def check_client_jwks(jwks: Any) -> dict[str, Any]:
    """Return a clean copy of a client's JWKS: public Ed25519 / P-256 keys with unique kids.

    Raises ``ValidationFailed`` naming the offending key.
    """
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise _invalid("jwks", 'jwks must be a JSON object with a "keys" list')
    keys = jwks["keys"]
    if not 0 < len(keys) <= MAX_KEYS:
        raise _invalid("jwks.keys", f"jwks must hold 1 to {MAX_KEYS} keys")
    clean = [_check_jwk(jwk, index) for index, jwk in enumerate(keys)]
    kids = [key["kid"] for key in clean]
    if len(set(kids)) != len(kids):
        raise _invalid("jwks.keys", "kids must be unique")
    return {"keys": clean}


def hash_secret(secret: str) -> str:
    """The stored form of a client secret."""
    return _SECRET_PREFIX + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(record: ClientRecord, secret: str) -> bool:
    """True if ``secret`` is the client's secret (constant-time comparison)."""
    if record.secret_hash is None:
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), record.secret_hash.encode())


def create_client(*, session: Session, participant: str, roles: Iterable[str],
                  jwks: Any = None, dpop_bound: bool = False, with_secret: bool = False,
                  client_id: str | None = None,
                  secrets_allowed: bool = False) -> tuple[ClientRecord, str | None]:
    """Register a client; return it and, if one was generated, its secret (shown once).

    Raises ``ValidationFailed`` for bad input, ``Forbidden`` for a secret where secrets are
    not allowed, ``Conflict`` if ``client_id`` is taken.
    """
    if not isinstance(participant, str) or not 0 < len(participant) <= 255 \
            or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in participant):
        raise _invalid("participant", "participant must be 1 to 255 visible characters")
    try:
        checked_roles = check_roles(roles)
    except ValueError as exc:
        raise _invalid("roles", str(exc)) from None
    clean_jwks = check_client_jwks(jwks) if jwks is not None else None
    if with_secret and not secrets_allowed:
        raise Forbidden("client secrets are not allowed in production mode "
                        "(set CONNECTOR_ALLOW_CLIENT_SECRETS=true to allow them)")
    if clean_jwks is None and not with_secret:
        raise _invalid("jwks", "a client needs public keys (jwks) or, in dev mode, a secret")
    if client_id is None:
        client_id = "c-" + secrets.token_urlsafe(15)
    elif not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise _invalid("client_id", "client_id must match [A-Za-z0-9._-]{3,64}")
    secret = secrets.token_urlsafe(32) if with_secret else None
    row = OAuthClient(client_id=client_id, participant=participant, roles=list(checked_roles),
                      jwks=clean_jwks, dpop_bound=dpop_bound,
                      secret_hash=hash_secret(secret) if secret else None)
    session.add(row)
    try:
        session.flush()
        audit_log.append(session.connection(), [{
            "type": "client.created", "client_id": client_id, "participant": participant,
            "roles": list(checked_roles), "dpop_bound": dpop_bound,
            "auth": "secret" if secret else "private_key_jwt"}])
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"client {client_id} already exists") from None
    return _record(row), secret


def get_client(*, session: Session, client_id: str) -> ClientRecord | None:
    """The client with ``client_id``, disabled or not; None if there is none."""
    row = session.get(OAuthClient, client_id)
    return _record(row) if row is not None else None


_CLIENTS: Final = OAuthClient.metadata.tables["oauth_client"]
#: Built once: the token endpoint looks a client up on every request.
_SELECT_CLIENT: Final = core_select(_CLIENTS).where(_CLIENTS.c.client_id == bindparam("client_id"))


def find_client(engine: Engine, client_id: str) -> ClientRecord | None:
    """Like :func:`get_client`, in one plain query without an ORM session (the hot path)."""
    with engine.connect() as connection:
        row = connection.execute(_SELECT_CLIENT, {"client_id": client_id}).first()
    return _record(row) if row is not None else None


def list_clients(*, session: Session) -> list[ClientRecord]:
    """Every registered client, oldest first."""
    rows = session.exec(select(OAuthClient).order_by(col(OAuthClient.created_at),
                                                     col(OAuthClient.client_id))).all()
    return [_record(row) for row in rows]


def disable_client(*, session: Session, client_id: str) -> ClientRecord:
    """Disable a client: its token requests fail and its unexpired tokens are refused.

    Idempotent; raises ``NotFound`` for an unknown client.
    """
    row = session.get(OAuthClient, client_id)
    if row is None:
        raise NotFound(f"no client {client_id}")
    if not row.disabled:
        row.disabled = True
        row.disabled_at = utcnow()
        session.add(row)
        audit_log.append(session.connection(), [{
            "type": "client.disabled", "client_id": client_id, "participant": row.participant}])
        session.commit()
    return _record(row)


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """A :class:`ClientRecord` as Authlib's server core expects a client to look."""

    def __init__(self, record: ClientRecord) -> None:
        self.record = record
        self.client_id = record.client_id

    def get_client_id(self) -> str:
        """The client's id."""
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        """Clients here use no redirects (client credentials only)."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The part of ``scope`` the client's roles allow."""
        allowed = scopes_for_roles(self.record.roles)
        return " ".join(part for part in (scope or "").split() if part in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """No redirect URI is ever valid."""
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """True if the client is enabled and ``client_secret`` is its secret."""
        return not self.record.disabled and verify_secret(self.record, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Enabled clients use ``private_key_jwt`` with keys, or a secret where it has one."""
        if self.record.disabled:
            return False
        if method == "private_key_jwt":
            return self.record.jwks is not None
        return method == "client_secret_basic" and self.record.has_secret

    def check_response_type(self, response_type: str) -> bool:
        """No response type: there is no authorization endpoint."""
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        """Only ``client_credentials``."""
        return grant_type == "client_credentials"
