"""The authenticated caller of a resource endpoint, as services see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Who calls: the participant, through which client, with which roles and scopes.

    ``scopes`` are only those the token carries *and* the roles grant; ``dpop_jkt`` is the
    thumbprint of the key the token is bound to, if it is DPoP-bound.
    """

    participant: str
    client_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    issuer: str
    subject: str
    token_id: str
    expires_at: int
    dpop_jkt: str | None = None

    def has_role(self, role: str) -> bool:
        """True if the principal holds ``role``."""
        return role in self.roles

    def has_scopes(self, *scopes: str) -> bool:
        """True if the principal holds every one of ``scopes``."""
        return set(scopes) <= self.scopes

    def as_json(self) -> dict[str, Any]:
        """The principal as a JSON object (what ``GET /api/v1/me`` returns)."""
        return {"participant": self.participant, "client_id": self.client_id,
                "roles": sorted(self.roles), "scopes": sorted(self.scopes),
                "issuer": self.issuer, "subject": self.subject, "token_id": self.token_id,
                "expires_at": self.expires_at,
                "token_type": "DPoP" if self.dpop_jkt else "Bearer"}
