"""Roles and the scopes they grant."""

from __future__ import annotations

import pytest

from connector.auth.scopes import (
    ALL_SCOPES,
    ROLES,
    check_roles,
    effective_scopes,
    grant_scopes,
    parse_scope,
    scopes_for_roles,
)


def test_every_role_of_the_issue_exists() -> None:
    assert set(ROLES) == {"provider", "partner", "auditor", "data_subject", "admin"}
    assert set(ALL_SCOPES) == set(scopes_for_roles(ROLES))


def test_check_roles_sorts_dedupes_and_refuses_unknown() -> None:
    assert check_roles(["partner", "admin", "partner"]) == ("admin", "partner")
    with pytest.raises(ValueError, match="at least one role"):
        check_roles([])
    with pytest.raises(ValueError, match="unknown role 'root'"):
        check_roles(["partner", "root"])


def test_grant_scopes() -> None:
    assert grant_scopes(None, ["partner"]) == ("catalog", "negotiate", "transfer")
    assert grant_scopes("", ["auditor"]) == ("audit",)
    assert grant_scopes("transfer catalog catalog", ["partner"]) == ("catalog", "transfer")
    with pytest.raises(ValueError, match="scope admin is not allowed"):
        grant_scopes("catalog admin", ["partner"])
    with pytest.raises(ValueError, match="single-space"):
        grant_scopes("catalog  transfer", ["partner"])


def test_effective_scopes_need_both_token_and_role() -> None:
    assert effective_scopes("catalog admin", ["partner"]) == {"catalog"}
    assert effective_scopes(None, ["admin"]) == frozenset()
    assert parse_scope("a b") == ("a", "b") and parse_scope(None) == ()
    assert scopes_for_roles(["unknown"]) == frozenset()
