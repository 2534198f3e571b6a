"""The decision contract: anything off-shape is a deny; revisions follow the files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connector.policy.embedded import EmbeddedEngine
from connector.policy.engine import ENGINE_UNAVAILABLE, parse_decision, policy_revision
from connector.policy.opa import OpaEngine

ALLOW_ALL = """package connector
decision := {"allow": true, "reasons": [], "obligations": [{"type": "notify_owner"}]}
"""


@pytest.mark.parametrize("raw", [
    None, [], "yes", {"allow": "true"}, {"allow": True, "reasons": "x"},
    {"allow": False, "reasons": [{"code": 1}]}, {"allow": True, "obligations": [{}]},
    {"allow": True, "obligations": "x"},
])
def test_off_contract_results_are_denies(raw: object) -> None:
    decision = parse_decision(raw, engine="t", revision="r")
    assert decision.allow is False
    assert decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_deny_without_reason_gets_one() -> None:
    decision = parse_decision({"allow": False}, engine="t", revision="r")
    assert not decision.allow and decision.reasons[0].code == "denied"


def test_allow_keeps_obligations_and_ids() -> None:
    decision = parse_decision({"allow": True, "reasons": [], "obligations": [
        {"type": "delete_after", "days": 30}]}, engine="t", revision="r", decision_id="d1")
    assert decision.allow and decision.obligations == ({"type": "delete_after", "days": 30},)
    assert decision.as_dict()["decision_id"] == "d1"


def test_revision_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a.rego").write_text(ALLOW_ALL)
    (tmp_path / "a_test.rego").write_text("package connector\n")
    first = policy_revision(tmp_path)
    (tmp_path / "a_test.rego").write_text("package connector\n# tests do not count\n")
    assert policy_revision(tmp_path) == first
    (tmp_path / "a.rego").write_text(ALLOW_ALL + "\n# changed\n")
    assert policy_revision(tmp_path) != first


def test_embedded_compile_error_denies(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text("package connector\ndecision := 1 +\n")
    engine = EmbeddedEngine(tmp_path)
    assert engine.ready() is not None
    decision = engine.decide({"action": "catalog"})
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_embedded_without_files_denies(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path)
    assert "no Rego files" in (engine.ready() or "")
    assert not engine.decide({}).allow


def test_embedded_allows_what_the_policy_allows(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    decision = EmbeddedEngine(tmp_path).decide({"action": "catalog"})
    assert decision.allow and decision.engine == "embedded"
    assert decision.obligations == ({"type": "notify_owner"},)


def _opa(tmp_path: Path, handler: httpx.MockTransport) -> OpaEngine:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    return OpaEngine("http://opa.invalid", tmp_path, transport=handler)


def _listing_ok(request: httpx.Request) -> httpx.Response | None:
    if request.method == "GET" and request.url.path == "/v1/policies":
        return httpx.Response(200, json={"result": []})
    if request.method == "PUT":
        return httpx.Response(200, json={})
    return None


@pytest.mark.parametrize("answer", [
    httpx.Response(500, json={"code": "internal_error"}),
    httpx.Response(200, json={}),  # undefined decision: no "result"
    httpx.Response(200, text="not json"),
    httpx.Response(200, json={"result": {"allow": 1}}),
])
def test_opa_error_paths_deny(tmp_path: Path, answer: httpx.Response) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _listing_ok(request) or answer

    decision = _opa(tmp_path, httpx.MockTransport(handler)).decide({"action": "catalog"})
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_opa_timeout_denies(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if (ok := _listing_ok(request)) is not None:
            return ok
        raise httpx.ReadTimeout("slow", request=request)

    decision = _opa(tmp_path, httpx.MockTransport(handler)).decide({"action": "catalog"})
    assert not decision.allow and "timed out" in decision.reasons[0].message


def test_opa_policy_refused_denies_and_reports(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/v1/policies":
            return httpx.Response(200, json={"result": []})
        if request.method == "GET":
            return httpx.Response(200, json={})
        return httpx.Response(400, json={"code": "invalid_parameter"})

    engine = _opa(tmp_path, httpx.MockTransport(handler))
    assert "refused" in (engine.ready() or "")
    assert not engine.decide({"action": "catalog"}).allow


def test_unreachable_opa_denies_and_is_not_ready(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    engine = OpaEngine("http://127.0.0.1:9", tmp_path, timeout=0.5)
    assert "unreachable" in (engine.ready() or "")
    decision = engine.decide({"action": "catalog"})
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE
    engine.close()
