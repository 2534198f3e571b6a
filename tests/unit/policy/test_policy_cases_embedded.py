"""Every case in policies/cases/ decided by the embedded engine (regopy), straight from the files.

A case file holds ``{"<file stem>": [{"name", "input", "expected"}, ...]}``: one top-level key per
file, named like the file, because ``opa test policies/`` loads the files as data and would fail
to merge files that share keys. The same cases run on a real OPA in the parity suite and in
``policies/connector_test.rego``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from regopy import Interpreter

from connector.policy.input import build_input

POLICIES = Path(__file__).resolve().parents[3] / "policies"
CASES_DIR = POLICIES / "cases"
REASON_CODES = {
    "unknown_action", "input_invalid", "recipient_not_allowed", "org_type_not_allowed",
    "region_not_allowed", "purpose_missing", "purpose_not_allowed", "outside_window",
    "count_exceeded", "consent_missing", "approval_missing", "obligation_unsupported",
}
# Cases whose inputs are deliberately not what build_input makes (missing or ill-typed fields).
RAW_TOPIC = "malformed"


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert list(doc) == [path.stem], f"{path.name}: one top-level key, {path.stem!r}"
        cases.extend(doc[path.stem])
    return cases


CASES = load_cases()


@pytest.fixture(scope="module")
def interpreter() -> Iterator[Interpreter]:
    rego = Interpreter()
    for path in sorted(POLICIES.glob("*.rego")):
        if not path.name.endswith("_test.rego"):
            rego.add_module(path.stem, path.read_text(encoding="utf-8"))
    yield rego


def decide(rego: Interpreter, doc: dict[str, Any]) -> Any:
    rego.set_input(doc)
    output = json.loads(str(rego.query("data.connector.decision")))
    return output["expressions"][0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_on_embedded_engine(interpreter: Interpreter, case: dict[str, Any]) -> None:
    assert decide(interpreter, case["input"]) == case["expected"]


def test_the_case_set() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names)
    for case in CASES:
        assert set(case) == {"name", "input", "expected"}
        assert set(case["expected"]) == {"allow", "reasons", "obligations"}
        codes = [r["code"] for r in case["expected"]["reasons"]]
        assert codes == sorted(set(codes)), case["name"]
        assert case["expected"]["allow"] is (not codes), case["name"]
    used = {r["code"] for c in CASES for r in c["expected"]["reasons"]}
    assert used == REASON_CODES
    assert {c["input"].get("action") for c in CASES} >= {"catalog", "negotiate", "transfer"}


@pytest.mark.parametrize("case", [c for c in CASES if not c["name"].startswith(RAW_TOPIC + "/")],
                         ids=lambda c: c["name"])
def test_case_inputs_are_what_build_input_makes(case: dict[str, Any]) -> None:
    assert build_input(**case["input"]) == case["input"]


def test_every_reason_has_a_message(interpreter: Interpreter) -> None:
    for case in CASES:
        for reason in decide(interpreter, case["input"])["reasons"]:
            assert set(reason) == {"code", "message"} and reason["message"]
