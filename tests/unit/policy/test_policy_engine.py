"""The decision contract: anything off-shape is a deny; revisions follow the files."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from connector.policy.embedded import EmbeddedEngine
from connector.policy.engine import ENGINE_UNAVAILABLE, parse_decision, policy_revision
from connector.policy.opa import OpaEngine, OpaError

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


class StubOpa:
    """A real HTTP server on loopback standing in for OPA: lists and takes policies, and answers
    every decision with ``answer`` (status, body) or, with ``answer=None``, not in time."""

    def __init__(self, answer: tuple[int, bytes] | None) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, b'{"result": []}')

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self._send(200, b"{}")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if stub.answer is None:
                    time.sleep(1.5)
                    return
                self._send(*stub.answer)
                # Like an OPA that drops an idle keep-alive connection without saying so.
                self.close_connection = stub.drop

            def log_message(self, *args: object) -> None:
                pass

        self.answer = answer
        self.drop = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("answer", [
    (500, b'{"code": "internal_error"}'),
    (200, b"{}"),  # undefined decision: no "result"
    (200, b"not json"),
    (200, b'{"result": {"allow": 1}}'),
    (200, b"[1, 2]"),
    None,  # no answer within the timeout
])
def test_opa_error_paths_deny(tmp_path: Path, answer: tuple[int, bytes] | None) -> None:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    stub = StubOpa(answer)
    engine = OpaEngine(stub.url, tmp_path, timeout=0.5)
    try:
        decision = engine.decide({"action": "catalog"})
    finally:
        engine.close()
        stub.close()
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_opa_keeps_one_connection_and_survives_its_loss(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    stub = StubOpa((200, b'{"result": {"allow": true}, "decision_id": "d-1"}'))
    engine = OpaEngine(stub.url, tmp_path, timeout=2)
    try:
        assert engine.decide({}).decision_id == "d-1"
        first = engine._local.conn
        assert engine.decide({}).allow and engine._local.conn is first  # kept alive
        stub.drop = True
        assert engine.decide({}).allow  # answered, then the server closed the connection
        decision = engine.decide({})  # the stale connection is reopened once
        assert decision.allow and decision.engine == "opa"
    finally:
        engine.close()
        stub.close()


def test_opa_url_must_be_http(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    with pytest.raises(OpaError):
        OpaEngine("ftp://opa", tmp_path, load_policies=False)


def _opa(tmp_path: Path, handler: httpx.MockTransport) -> OpaEngine:
    (tmp_path / "p.rego").write_text(ALLOW_ALL)
    return OpaEngine("http://opa.invalid", tmp_path, transport=handler)


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
