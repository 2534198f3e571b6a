"""Roles, the scopes each role may hold, and how a token request's ``scope`` is granted.

A client is registered with roles; its tokens carry the roles and the scopes granted from them.
A route names the scope it needs; a principal holds a scope only if one of its roles grants it,
so a token that claims a scope its roles do not allow gains nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

#: What each role may do (issue 3): providers manage their own datasets, offers and approvals;
#: partners browse, negotiate and transfer; auditors read the audit log; data subjects manage
#: their own consents; admins manage clients.
ROLE_SCOPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "provider": ("datasets", "offers", "approvals"),
    "partner": ("catalog", "negotiate", "transfer"),
    "auditor": ("audit",),
    "data_subject": ("consent",),
    "admin": ("admin",),
})
ROLES: Final = tuple(ROLE_SCOPES)
ALL_SCOPES: Final = tuple(sorted({scope for scopes in ROLE_SCOPES.values() for scope in scopes}))


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Return ``roles`` sorted and de-duplicated; raise ``ValueError`` naming an unknown one."""
    result = tuple(sorted(set(roles)))
    if not result:
        raise ValueError("at least one role is required")
    unknown = [role for role in result if role not in ROLE_SCOPES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
    return result


def scopes_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every scope that at least one of ``roles`` grants (unknown roles grant nothing)."""
    return frozenset(scope for role in roles for scope in ROLE_SCOPES.get(role, ()))


def parse_scope(scope: str | None) -> tuple[str, ...]:
    """Split an RFC 6749 §3.3 scope string into its tokens (empty or None gives none)."""
    return tuple(scope.split(" ")) if scope else ()


def grant_scopes(requested: str | None, roles: Iterable[str]) -> tuple[str, ...]:
    """The scopes a token gets: all the roles allow when none is requested, else the requested.

    Raises ``ValueError`` when a requested scope is malformed or not allowed for ``roles``.
    """
    allowed = scopes_for_roles(roles)
    if requested is None or requested == "":
        return tuple(sorted(allowed))
    wanted = parse_scope(requested)
    if any(not part for part in wanted):
        raise ValueError("scope must be single-space separated tokens")
    refused = sorted(set(wanted) - allowed)
    if refused:
        raise ValueError(f"scope {refused[0]} is not allowed for this client")
    return tuple(sorted(set(wanted)))


def effective_scopes(token_scope: str | None, roles: Iterable[str]) -> frozenset[str]:
    """The scopes a principal holds: those in the token that its roles also grant."""
    return frozenset(parse_scope(token_scope)) & scopes_for_roles(roles)
