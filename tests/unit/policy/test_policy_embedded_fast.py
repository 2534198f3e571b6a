"""The embedded engine's shortcuts decide exactly what data.connector.decision decides.

The engine asks a small bundle (the plan of fast_decision and what it calls) first, and the full
bundle for full_decision only where fast_decision is undefined; it reads outputs and pushes
inputs through rego-cpp's C API. Each falls back to the plain path where it cannot be used, and
any failure is a deny.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import pytest
from regopy import Interpreter, rego_shared

from connector.policy import embedded
from connector.policy.embedded import EmbeddedEngine, first_expression, shortcut_holds
from connector.policy.engine import ENGINE_UNAVAILABLE, Decision
from connector.policy.rego_input import COMMENT, InputBuilder
from tests.unit.policy.test_policy_cases_embedded import load_cases

POLICIES = Path(__file__).resolve().parents[3] / "policies"
CASES = load_cases()

SHORTCUT = """package connector

decision := d if {
	d := fast_decision
} else := full_decision

fast_decision := {"allow": true, "reasons": [], "obligations": duties} if {
	input.action == "catalog"
	duties := [d | some d in allowed_duties]
}

allowed_duties := [{"type": "notify_owner"}]

full_decision := {"allow": false, "reasons": [{"code": "no", "message": "no"}], "obligations": []}
"""


def as_expected(decision: Decision) -> dict[str, Any]:
    body = decision.as_dict()
    return {key: body[key] for key in ("allow", "reasons", "obligations")}


def plain_decision(policy_dir: Path, doc: Any) -> Any:
    """data.connector.decision as regopy answers a plain query over every module."""
    rego = Interpreter()
    for path in sorted(policy_dir.glob("*.rego")):
        if not path.name.endswith("_test.rego"):
            rego.add_module(path.stem, path.read_text(encoding="utf-8"))
    rego.set_input(doc)
    return json.loads(str(rego.query("data.connector.decision")))["expressions"][0]


def counting(engine: EmbeddedEngine, asked: list[str]) -> None:
    """Record which of the full bundle's entrypoints each decision asks."""
    full, decision = engine._full_query, engine._query
    engine._full_query = lambda: (asked.append("full_decision"), full())[1]
    engine._query = lambda: (asked.append("decision"), decision())[1]


def test_every_case_as_expected_allowed_ones_on_the_small_bundle_alone() -> None:
    engine = EmbeddedEngine(POLICIES)
    assert engine.ready() is None and engine._fast_query is not None
    asked: list[str] = []
    counting(engine, asked)
    on_small_bundle = 0
    for case in CASES:
        asked.clear()
        assert as_expected(engine.decide(case["input"])) == case["expected"], case["name"]
        assert asked in ([], ["full_decision"]), case["name"]
        if not case["expected"]["allow"]:
            assert asked == ["full_decision"], case["name"]
        on_small_bundle += not asked
    assert on_small_bundle >= 40


def test_the_small_bundle_holds_only_what_fast_decision_calls(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(SHORTCUT)
    engine = EmbeddedEngine(tmp_path)
    assert engine._fast_query is not None and len(engine._bundles) == 2
    out = Path(tmp_path / "small")
    assert engine._interpreter is not None
    engine._interpreter.save_bundle(str(out), engine._bundles[1])
    plan = json.loads((out / "plan.json").read_text())
    assert [p["name"] for p in plan["plans"]["plans"]] == ["connector/fast_decision"]
    assert {f["name"] for f in plan["funcs"]["funcs"]} == {
        "g0.data.connector.fast_decision", "g0.data.connector.allowed_duties"}
    for doc in ({"action": "catalog"}, {"action": "transfer"}, {}, ["catalog"]):
        assert as_expected(engine.decide(doc)) == plain_decision(tmp_path, doc)


def test_policies_without_the_two_rules_use_one_bundle(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(SHORTCUT.replace("full_decision", "other_decision"))
    engine = EmbeddedEngine(tmp_path)
    assert engine._fast_query is None and len(engine._bundles) == 1
    assert engine.decide({"action": "catalog"}).allow
    assert engine.decide({"action": "x"}).reasons[0].code == "no"


@pytest.mark.parametrize("decision", [
    # decision defined otherwise than "fast_decision, else full_decision": no shortcut
    "decision := full_decision",
    "decision := d if {\n\td := fast_decision\n\tinput.x == 1\n} else := full_decision",
    "decision := d if {\n\td := fast_decision\n} else := full_decision\n\n"
    "default decision := {}",
])
def test_a_decision_rule_of_another_shape_uses_one_bundle(tmp_path: Path, decision: str) -> None:
    text = SHORTCUT.replace("decision := d if {\n\td := fast_decision\n} else := full_decision",
                            decision)
    assert not shortcut_holds(text)
    (tmp_path / "p.rego").write_text(text)
    engine = EmbeddedEngine(tmp_path)
    assert engine._fast_query is None and len(engine._bundles) == 1


def test_the_shipped_policies_and_the_example_take_the_shortcut() -> None:
    assert shortcut_holds(SHORTCUT)
    text = "\n".join(path.read_text() for path in sorted(POLICIES.glob("*.rego"))
                      if not path.name.endswith("_test.rego"))
    assert shortcut_holds(COMMENT.sub("", text))


def test_a_plan_that_cannot_be_cut_uses_one_bundle(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.rego").write_text(SHORTCUT)

    def dynamic(node: Any) -> list[str]:
        raise ValueError("a dynamic call")

    monkeypatch.setattr(embedded, "_calls", dynamic)
    engine = EmbeddedEngine(tmp_path)
    assert engine.ready() is None and engine._fast_query is None
    assert engine.decide({"action": "catalog"}).allow


def test_a_failing_small_bundle_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EmbeddedEngine(POLICIES)

    def broken() -> bytes | None:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "_fast_query", broken)
    decision = engine.decide(CASES[0]["input"])
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_an_engine_error_asks_for_the_decision_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EmbeddedEngine(POLICIES)
    asked: list[str] = []
    counting(engine, asked)
    monkeypatch.setattr(engine, "_fast_query", lambda: None)
    for case in CASES[::5]:
        asked.clear()
        assert as_expected(engine.decide(case["input"])) == case["expected"], case["name"]
        assert asked == ["decision"]


def test_an_error_everywhere_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EmbeddedEngine(POLICIES)
    for name in ("_fast_query", "_full_query", "_query"):
        monkeypatch.setattr(engine, name, lambda: None)
    decision = engine.decide(CASES[0]["input"])
    assert not decision.allow and decision.reasons[0].code == ENGINE_UNAVAILABLE


def test_without_the_c_output_functions_regopy_reads_the_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "_OUTPUT_API", (("regoOutputJSON", [], ctypes.c_int),))
    engine = EmbeddedEngine(POLICIES)
    assert engine._fast_query is not None and engine._fast_query.__name__ == "through_regopy"
    for case in CASES[::3]:
        assert as_expected(engine.decide(case["input"])) == case["expected"], case["name"]


def test_an_output_larger_than_the_buffer(tmp_path: Path) -> None:
    duties = [{"type": "notify_owner", "note": "x" * 100} for _ in range(100)]
    (tmp_path / "main.rego").write_text(
        'package connector\n\ndecision := {"allow": true, "reasons": [], '
        f'"obligations": {json.dumps(duties)}}}\n')
    engine = EmbeddedEngine(tmp_path)
    for _ in range(2):
        assert [dict(o) for o in engine.decide({}).obligations] == duties


@pytest.mark.parametrize(("text", "expected"), [
    (None, None),
    (b"undefined", None),
    (b'{"expressions":[{"allow":true}]}', {"allow": True}),
    (b'[{"expressions":[1]},{"expressions":[2]}]', 1),
    (b"[]", None),
    (b'{"bindings":{"x":1}}', None),
    (b'{"expressions":[]}', None),
])
def test_first_expression(text: bytes | None, expected: Any) -> None:
    assert first_expression(text) == expected


def test_a_failed_push_is_reported_by_set_input() -> None:
    assert InputBuilder.load({}) is not None
    lib = rego_shared.rego
    held = ctypes.PyDLL(lib._name)
    held.regoInputString.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    held.regoInputObjectItem.argtypes = [ctypes.c_void_p]
    interpreter = Interpreter()
    handle = lib.regoNewInput()
    try:
        held.regoInputString(handle, b"lonely key")
        held.regoInputObjectItem(handle)  # needs a key and a value: the input is now in error
        assert lib.regoSetInput(interpreter._impl, handle) != 0
    finally:
        lib.regoFreeInput(handle)
