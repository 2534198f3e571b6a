"""Database-backed state of the authorization server: used jtis, revocations, client status.

Replay protection relies on the primary key of ``oauth_seen_jti``: inserting a jti twice fails
in the database, so the check holds across replicas and processes (the CLI included).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import bindparam, delete, insert, literal, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from connector.audit import log as audit_log
from connector.auth.models import OAuthClient, RevokedToken, SeenJti

KIND_ASSERTION: Final = "assertion"
KIND_DPOP: Final = "dpop"
#: Sweep expired rows on every n-th insert; a sweep is one indexed range delete.
_SWEEP_EVERY: Final = 64


#: Built once: constructing the statement per request costs more than running it.
_TOKEN_STATUS: Final = union_all(
    select(literal("revoked").label("what"), literal(False).label("disabled"))
    .where(col(RevokedToken.jti) == bindparam("jti")),
    select(literal("client").label("what"), col(OAuthClient.disabled))
    .where(col(OAuthClient.client_id) == bindparam("client_id")))


_SEEN: Final = SeenJti.metadata.tables["oauth_seen_jti"]
_SWEEP_JTIS: Final = delete(_SEEN).where(_SEEN.c.expires_at < bindparam("now"))
_DELETE_EXPIRED_JTI: Final = delete(_SEEN).where(
    _SEEN.c.kind == bindparam("kind"), _SEEN.c.owner == bindparam("owner"),
    _SEEN.c.jti == bindparam("jti"), _SEEN.c.expires_at < bindparam("now"))
_INSERT_JTI: Final = insert(_SEEN).values(kind=bindparam("kind"), owner=bindparam("owner"),
                                          jti=bindparam("jti"),
                                          expires_at=bindparam("expires_at"))


@dataclass(frozen=True)
class TokenStatus:
    """What the database says about one access token at the time it is presented."""

    revoked: bool
    client_known: bool
    client_disabled: bool


class AuthStore:
    """Used jtis, revoked tokens and the client status lookups behind token validation."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._inserts = 0

    def first_use(self, kind: str, owner: str, jti: str, expires_at: float) -> bool:
        """Record ``jti`` until ``expires_at``; return False if it is already recorded (replay).

        An expired record of the same jti is replaced: the JWT that used it can no longer pass
        its own time checks, so reusing the value later is not a replay.
        """
        now = int(self._clock())
        self._inserts += 1
        params = {"kind": kind, "owner": owner, "jti": jti, "now": now,
                  "expires_at": int(expires_at) + 1}
        try:
            with self.engine.begin() as connection:
                if self._inserts % _SWEEP_EVERY == 0:
                    connection.execute(_SWEEP_JTIS, {"now": now})
                connection.execute(_DELETE_EXPIRED_JTI, params)
                connection.execute(_INSERT_JTI, params)
        except IntegrityError:
            return False
        return True

    def replay_cache(self, kind: str, owner: str = "") -> DatabaseReplayCache:
        """A ``dpop.ReplayCache`` view of this store for one kind of jti."""
        return DatabaseReplayCache(self, kind, owner)

    def revoke(self, jti: str, client_id: str, expires_at: float) -> None:
        """Put ``jti`` on the revocation list until ``expires_at`` (idempotent)."""
        now = int(self._clock())
        with Session(self.engine) as session:
            session.execute(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
            if session.get(RevokedToken, jti) is None:
                session.add(RevokedToken(jti=jti, client_id=client_id,
                                         expires_at=int(expires_at) + 1))
                session.flush()
                audit_log.append(session.connection(), [{
                    "type": "token.revoked", "jti": jti, "client_id": client_id}])
            try:
                session.commit()
            except IntegrityError:  # revoked concurrently: the outcome is the same
                session.rollback()

    def is_revoked(self, jti: str) -> bool:
        """True if ``jti`` is on the revocation list."""
        with Session(self.engine) as session:
            return session.get(RevokedToken, jti) is not None

    def token_status(self, jti: str, client_id: str) -> TokenStatus:
        """Revocation of ``jti`` and the state of ``client_id``, in one query.

        This runs on every authenticated request, so it is one round trip of plain SQL
        (two primary-key lookups) rather than ORM loads.
        """
        with self.engine.connect() as connection:
            rows = {row.what: bool(row.disabled) for row in connection.execute(
                _TOKEN_STATUS, {"jti": jti, "client_id": client_id})}
        return TokenStatus(revoked="revoked" in rows, client_known="client" in rows,
                           client_disabled=rows.get("client", False))


class DatabaseReplayCache:
    """Adapts :class:`AuthStore` to the ``ReplayCache`` protocol of ``auth.dpop``."""

    def __init__(self, store: AuthStore, kind: str, owner: str) -> None:
        self._store = store
        self._kind = kind
        self._owner = owner

    def seen(self, jti: str, expires_at: float) -> bool:
        """Record ``jti`` until ``expires_at``; return True if it was already recorded."""
        return not self._store.first_use(self._kind, self._owner, jti, expires_at)
