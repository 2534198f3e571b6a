"""ODRL → normalised policy, and the decision input: exact shapes; every refusal names its term."""

from __future__ import annotations

import copy
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import UnsupportedPolicy
from connector.policy.input import build_input, normalised_policy, to_epoch
from connector.policy.odrl import REGION_PARENT, completed, normalise_policy, region_path

DSP = Path(__file__).resolve().parents[4] / "shared" / "dsp-2025-1"
OWNER = "did:web:dew21.example"
P = "did:web:partner.example"


def c(left: Any, op: Any, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def offer(*constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "use", "constraint": list(constraints)}
    if "duty" in extra:
        rule["duty"] = extra.pop("duty")
    return {"@id": "urn:offer:1", "@type": "Offer", "assigner": OWNER,
            "permission": [rule], **extra}


EMPTY = {
    "id": "urn:offer:1", "kind": "offer", "target": None, "assigner": OWNER,
    "purposes": None, "window": {"not_before": None, "not_after": None}, "max_count": None,
    "assignees": None, "org_types": None, "regions": None,
    "consent_required": False, "consent_scope": "rows", "approval_required": False,
    "duties": [],
}


def expect(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EMPTY), **changes}


def engine_view(policy: dict[str, Any]) -> dict[str, Any]:
    """What the engine gets: the data plane's keys (consent scope, grouping) left out."""
    duties = [{k: v for k, v in d.items() if k != "group_by"} for d in policy["duties"]]
    return {**{k: v for k, v in policy.items() if k != "consent_scope"}, "duties": duties}


def test_consent_scope_and_aggregate_grouping() -> None:
    policy = offer(c("dodata:consentScope", "eq", "allSubjects"),
                   duty=[{"action": "aggregate", "constraint": [
                       c("dodata:minGroupSize", "gteq", 5),
                       c("dodata:groupBy", "isAnyOf", ["timestamp", "district"])]}])
    result = normalise_policy(policy)
    assert result["consent_scope"] == "all_subjects"
    assert result["duties"] == [{"type": "aggregate_only", "k": 5,
                                 "group_by": ["timestamp", "district"]}]
    assert normalised_policy(result) == engine_view(result)
    assert normalise_policy(offer(c("dodata:consentScope", "eq", "rows")))[
        "consent_scope"] == "rows"


@pytest.mark.parametrize(("policy", "term"), [
    (offer(c("dodata:consentScope", "eq", "everyone")), "dodata:consentScope"),
    (offer(c("dodata:consentScope", "isAnyOf", ["rows", "allSubjects"])), "dodata:consentScope"),
    (offer(c("dodata:consentScope", "lteq", "rows")), "lteq"),
    (offer(duty=[{"action": "aggregate", "constraint": [
        c("dodata:minGroupSize", "gteq", 5), c("dodata:groupBy", "eq", "a"),
        c("dodata:groupBy", "eq", "b")]}]), "dodata:groupBy"),
    (offer(duty=[{"action": "aggregate", "constraint": [c("dodata:groupBy", "eq", "a")]}]),
     "aggregate"),
    (offer(duty=[{"action": "delete", "constraint": [
        c("elapsedTime", "lteq", "P3D"), c("dodata:groupBy", "eq", "a")]}]), "delete"),
])
def test_bad_consent_scope_or_grouping_is_refused_by_name(policy: dict[str, Any],
                                                          term: str) -> None:
    with pytest.raises(UnsupportedPolicy) as caught:
        normalise_policy(policy)
    assert caught.value.extra["term"] == term


def test_a_policy_stored_before_the_new_keys_compares_equal_when_completed() -> None:
    policy = offer(duty=[{"action": "aggregate", "constraint": [
        c("dodata:minGroupSize", "gteq", 5)]}])
    fresh = normalise_policy(policy)
    stored = {k: v for k, v in fresh.items() if k != "consent_scope"}
    stored["duties"] = [{"type": "aggregate_only", "k": 5}]
    assert completed(stored) == fresh


def test_stored_policy_with_a_bad_scope_or_grouping_is_an_error() -> None:
    with pytest.raises(ValueError, match="consent_scope"):
        normalised_policy(expect(consent_scope="most"))
    with pytest.raises(ValueError, match="group_by"):
        normalised_policy(expect(duties=[{"type": "aggregate_only", "k": 3, "group_by": [1]}]))


# --- what is understood ---------------------------------------------------------------------


def test_open_offer() -> None:
    assert normalise_policy(offer()) == EMPTY


def test_every_operand_and_duty() -> None:
    policy = offer(
        c("purpose", "isAnyOf", ["research", "planning", "research"]),
        c("dateTime", "gteq", "2026-01-01T00:00:00Z"),
        c("dateTime", "lteq", "2026-12-31T23:59:59Z"),
        c("count", "lteq", 3),
        c("recipient", "isAnyOf", [P, "did:web:other.example"]),
        c("dodata:orgType", "isAnyOf", ["research", "company"]),
        c("spatial", "isAnyOf", ["DE-NW", "EU"]),
        c("dodata:consentRequired", "eq", True),
        c("dodata:approvalRequired", "eq", True),
        duty=[{"action": "inform"},
              {"action": "delete", "constraint": [c("elapsedTime", "lteq", "P30D")]},
              {"action": "aggregate", "constraint": [c("dodata:minGroupSize", "gteq", 10)]}],
        target="urn:dataset:air-quality",
    )
    assert normalise_policy(policy) == expect(
        target="urn:dataset:air-quality",
        purposes=["research", "planning"],
        window={"not_before": 1767225600, "not_after": 1798761599},
        max_count=3,
        assignees=[P, "did:web:other.example"],
        org_types=["research", "company"],
        regions=["DE-NW", "EU"],
        consent_required=True,
        approval_required=True,
        duties=[{"type": "aggregate_only", "k": 10, "group_by": []},
                {"type": "delete_after", "days": 30}, {"type": "notify_owner"}],
    )


def test_prefixed_iri_and_id_forms_are_the_same_terms() -> None:
    policy = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld",
                     {"dodata": "https://w3id.org/dodata/policy#"}],
        "@id": "urn:offer:1", "odrl:assigner": {"@id": OWNER}, "@type": "odrl:Offer",
        "odrl:permission": [{
            "@type": "Permission",
            "odrl:action": {"@id": "odrl:use"},
            "odrl:constraint": {"@list": [
                {"@type": "odrl:Constraint", "odrl:leftOperand": {"@id": "odrl:purpose"},
                 "odrl:operator": {"@id": "http://www.w3.org/ns/odrl/2/eq"},
                 "odrl:rightOperand": {"@value": "research"}},
                c("https://w3id.org/dodata/policy#orgType", "odrl:isAnyOf", "company"),
                c("http://www.w3.org/ns/odrl/2/count", "lt", {"@value": 4, "@type": "xsd:int"}),
                c("odrl:recipient", "eq", {"@id": P}),
                c("spatial", "eq", {"@id": "_:DE"}),
                c("odrl:dateTime", "gt", {"@value": "2026-01-01T00:00:00Z",
                                          "@type": "xsd:dateTime"}),
            ]},
        }],
    }
    assert normalise_policy(policy) == expect(
        purposes=["research"], org_types=["company"], max_count=3, assignees=[P],
        regions=["DE"], window={"not_before": 1767225601, "not_after": None})


def test_logical_and_is_flattened() -> None:
    nested = {"and": [c("purpose", "eq", "research"),
                      {"odrl:and": {"@list": [c("spatial", "eq", "DE")]}}]}
    assert normalise_policy(offer(nested)) == expect(purposes=["research"], regions=["DE"])


@pytest.mark.parametrize(("op", "value", "bound", "expected"), [
    ("gteq", "2026-01-01T00:00:00.250Z", "not_before", 1767225601),  # lower bounds round up
    ("gt", "2026-01-01T00:00:00.250Z", "not_before", 1767225601),
    ("lteq", "2026-01-01T00:00:00.250Z", "not_after", 1767225600),   # upper bounds round down
    ("lt", "2026-01-01T00:00:00.250Z", "not_after", 1767225600),
    ("lt", "2026-01-01T00:00:00Z", "not_after", 1767225599),
    ("lteq", "2026-01-01T01:00:00+01:00", "not_after", 1767225600),
    ("lteq", "2023-12-31T06:00Z", "not_after", 1704002400),          # DSP's own example
])
def test_datetime_bounds_in_whole_seconds(op: str, value: str, bound: str, expected: int) -> None:
    window = normalise_policy(offer(c("dateTime", op, value)))["window"]
    assert window[bound] == expected


def test_agreement_assignee_narrows_recipients() -> None:
    agreement = offer(c("recipient", "isAnyOf", [P, "did:web:b"]), assignee={"@id": P},
                      **{"@type": "Agreement", "timestamp": "2026-01-01T00:00:00Z"})
    assert normalise_policy(agreement) == expect(kind="agreement", assignees=[P])
    assert normalise_policy(offer(assignee=P))["assignees"] == [P]


def test_policy_without_id_and_rule_target() -> None:
    policy = {"@type": "Offer", "permission": [{"action": "use", "target": "urn:d"}],
              "target": {"@id": "urn:d"}, "prohibition": [], "obligation": []}
    assert normalise_policy(policy) == expect(id=None, assigner=None, target="urn:d")


def test_policy_level_obligation_is_a_duty() -> None:
    result = normalise_policy(offer(obligation=[{"@type": "Duty", "action": "odrl:inform"}]))
    assert result["duties"] == [{"type": "notify_owner"}]


def test_false_flags_stay_false() -> None:
    result = normalise_policy(offer(c("dodata:consentRequired", "eq", False),
                                    c("dodata:approvalRequired", "eq", {"@value": False})))
    assert result["consent_required"] is False and result["approval_required"] is False


@pytest.mark.parametrize(("raw", "value"), [
    ("true", True), ("false", False),
    ({"@value": "true", "@type": "xsd:boolean"}, True),
    ({"@value": "false", "@type": "http://www.w3.org/2001/XMLSchema#boolean"}, False),
    ({"@value": "true"}, True)])
def test_flags_as_strings_the_dsp_schema_allows(raw: Any, value: bool) -> None:
    result = normalise_policy(offer(c("dodata:consentRequired", "eq", raw),
                                    c("dodata:approvalRequired", "eq", raw)))
    assert result["consent_required"] is value and result["approval_required"] is value


def test_dsp_examples() -> None:
    if not DSP.exists():
        pytest.skip(f"DSP reference artefacts not at {DSP}")
    dataset = json.loads((DSP / "catalog/example/dataset.json").read_text())
    assert normalise_policy(dataset["hasPolicy"][0])["regions"] == ["EU"]
    message = json.loads((DSP / "negotiation/example/contract-offer-message.json").read_text())
    assert normalise_policy(message["offer"])["window"]["not_after"] == 1704002400
    full = json.loads((DSP / "negotiation/example/contract-agreement-message-full.json")
                      .read_text())
    with pytest.raises(UnsupportedPolicy) as info:
        normalise_policy(full["agreement"])
    assert info.value.extra["term"] == "permission"


def test_region_hierarchy() -> None:
    assert region_path("DE-NW") == ["DE-NW", "DE", "EU"]
    assert region_path("FR") == ["FR", "EU"]
    assert region_path("CH") == ["CH"]
    assert region_path(None) == []
    assert all(region_path(code)[-1] == "EU" for code in REGION_PARENT)


# --- what is refused, by name ---------------------------------------------------------------

REFUSED: list[tuple[str, Any, str]] = [
    ("unknown left operand", offer(c("partner", "eq", "gold")), "partner"),
    ("odrl prefix on our operand", offer(c("odrl:orgType", "eq", "company")), "orgType"),
    ("left operand not a term", offer(c(5, "eq", "x")), "leftOperand"),
    ("purpose neq", offer(c("purpose", "neq", "marketing")), "neq"),
    ("purpose isNoneOf", offer(c("purpose", "isNoneOf", ["marketing"])), "isNoneOf"),
    ("dateTime eq", offer(c("dateTime", "eq", "2026-01-01T00:00:00Z")), "eq"),
    ("count gteq", offer(c("count", "gteq", 3)), "gteq"),
    ("flag with isAnyOf", offer(c("dodata:consentRequired", "isAnyOf", [True])), "isAnyOf"),
    ("region hasPart", offer(c("spatial", "hasPart", "DE")), "hasPart"),
    ("count as string", offer(c("count", "lteq", "5")), "count"),
    ("count as bool", offer(c("count", "lteq", True)), "count"),
    ("count zero", offer(c("count", "lteq", 0)), "count"),
    ("count lt one", offer(c("count", "lt", 1)), "count"),
    ("date without zone", offer(c("dateTime", "lteq", "2026-01-01T00:00:00")), "dateTime"),
    ("date only", offer(c("dateTime", "lteq", "2026-01-01")), "dateTime"),
    ("date as number", offer(c("dateTime", "lteq", 1767225600)), "dateTime"),
    ("impossible date", offer(c("dateTime", "lteq", "2026-02-30T00:00:00Z")), "dateTime"),
    ("date out of range", offer(c("dateTime", "gteq", "0001-01-01T00:00:00+01:00")),
     "dateTime"),
    ("eq with two values", offer(c("purpose", "eq", ["a", "b"])), "purpose"),
    ("empty list", offer(c("purpose", "isAnyOf", [])), "purpose"),
    ("number purpose", offer(c("purpose", "eq", 5)), "purpose"),
    ("empty string purpose", offer(c("purpose", "eq", "")), "purpose"),
    ("null right operand", offer(c("purpose", "eq", None)), "purpose"),
    ("object right operand", offer(c("purpose", "eq", {"foo": 1})), "purpose"),
    ("nested list", offer(c("recipient", "isAnyOf", [[P]])), "recipient"),
    ("unknown region", offer(c("spatial", "eq", "XX")), "spatial"),
    ("lower-case region", offer(c("spatial", "eq", "de")), "spatial"),
    ("unknown org type", offer(c("dodata:orgType", "eq", "ngo")), "dodata:orgType"),
    ("flag as other string", offer(c("dodata:approvalRequired", "eq", "yes")),
     "dodata:approvalRequired"),
    ("flag as upper-case string", offer(c("dodata:approvalRequired", "eq", "TRUE")),
     "dodata:approvalRequired"),
    ("flag typed as string", offer(c("dodata:consentRequired", "eq",
                                     {"@value": "true", "@type": "xsd:string"})),
     "dodata:consentRequired"),
    ("purpose twice", offer(c("purpose", "eq", "a"), c("purpose", "eq", "b")), "purpose"),
    ("lower bound twice", offer(c("dateTime", "gt", "2026-01-01T00:00:00Z"),
                                c("dateTime", "gteq", "2026-02-01T00:00:00Z")), "dateTime"),
    ("empty window", offer(c("dateTime", "gteq", "2026-02-01T00:00:00Z"),
                           c("dateTime", "lteq", "2026-01-01T00:00:00Z")), "dateTime"),
    ("or", offer({"or": [c("purpose", "eq", "a"), c("purpose", "eq", "b")]}), "or"),
    ("xone", offer({"xone": [c("purpose", "eq", "a")]}), "xone"),
    ("andSequence", offer({"odrl:andSequence": [c("purpose", "eq", "a")]}), "andSequence"),
    ("and mixed with atomic", offer({"and": [], **c("purpose", "eq", "a")}), "and"),
    ("constraint without right operand", offer({"leftOperand": "purpose", "operator": "eq"}),
     "rightOperand"),
    ("constraint unit", offer({**c("count", "lteq", 3), "unit": "x"}), "unit"),
    ("constraint not an object", offer("purpose=research"), "constraint"),
    ("constraint type", offer({**c("purpose", "eq", "a"), "@type": "Duty"}), "Duty"),
    ("rightOperandReference", offer({"leftOperand": "purpose", "operator": "eq",
                                     "rightOperandReference": "http://x"}),
     "rightOperandReference"),
    ("action read", {**offer(), "permission": [{"action": "read"}]}, "read"),
    ("action with refinement", {**offer(), "permission": [
        {"action": {"rdf:value": {"@id": "odrl:use"}, "refinement": []}}]}, "action"),
    ("permission without action", {**offer(), "permission": [{}]}, "action"),
    ("permission property", {**offer(), "permission": [{"action": "use", "assignee": P}]},
     "assignee"),
    ("permission type", {**offer(), "permission": [{"action": "use", "@type": "Prohibition"}]},
     "Prohibition"),
    ("repeated property", {**offer(), "permission": [{"action": "use", "odrl:action": "use"}]},
     "odrl:action"),
    ("no permission", {**offer(), "permission": []}, "permission"),
    ("two permissions", {**offer(), "permission": [{"action": "use"}, {"action": "use"}]},
     "permission"),
    ("prohibition", offer(prohibition=[{"action": "distribute"}]), "prohibition"),
    ("Set policy", {**offer(), "@type": "Set"}, "Set"),
    ("untyped policy", {k: v for k, v in offer().items() if k != "@type"}, "@type"),
    ("unknown policy property", offer(inheritFrom="urn:x"), "inheritFrom"),
    ("policy not an object", ["Offer"], "policy"),
    ("foreign context", offer(**{"@context": {"purpose": "http://example.com/mine"}}),
     "@context"),
    ("unknown context URL", offer(**{"@context": ["https://example.com/ctx.jsonld"]}),
     "@context"),
    ("two assigners", offer(assigner=[OWNER, P]), "assigner"),
    ("targets differ", {**offer(target="urn:a"), "permission": [
        {"action": "use", "target": "urn:b"}]}, "target"),
    ("assignee outside recipients", offer(c("recipient", "eq", P), assignee="did:web:b"),
     "recipient"),
    ("duty action", offer(duty=[{"action": "anonymize"}]), "anonymize"),
    ("duty without action", offer(duty=[{"constraint": []}]), "action"),
    ("duty property", offer(duty=[{"action": "inform", "informedParty": OWNER}]),
     "informedParty"),
    ("duty type", offer(duty=[{"action": "inform", "@type": "Permission"}]), "Permission"),
    ("inform with constraint", offer(duty=[{"action": "inform", "constraint": [
        c("elapsedTime", "eq", "P1D")]}]), "inform"),
    ("delete without period", offer(duty=[{"action": "delete"}]), "delete"),
    ("delete in months", offer(duty=[{"action": "delete", "constraint": [
        c("elapsedTime", "lteq", "P1M")]}]), "elapsedTime"),
    ("delete days as number", offer(duty=[{"action": "delete", "constraint": [
        c("elapsedTime", "lteq", 30)]}]), "elapsedTime"),
    ("delete delayPeriod", offer(duty=[{"action": "delete", "constraint": [
        c("delayPeriod", "eq", "P30D")]}]), "delayPeriod"),
    ("delete gteq", offer(duty=[{"action": "delete", "constraint": [
        c("elapsedTime", "gteq", "P30D")]}]), "gteq"),
    ("aggregate k one", offer(duty=[{"action": "aggregate", "constraint": [
        c("dodata:minGroupSize", "gteq", 1)]}]), "dodata:minGroupSize"),
    ("aggregate k string", offer(duty=[{"action": "aggregate", "constraint": [
        c("dodata:minGroupSize", "gteq", "10")]}]), "dodata:minGroupSize"),
    ("duty twice", offer(duty=[{"action": "inform"}], obligation=[{"action": "inform"}]),
     "notify_owner"),
]


@pytest.mark.parametrize(("policy", "term"), [(p, t) for _, p, t in REFUSED],
                         ids=[name for name, _, _ in REFUSED])
def test_unsupported_terms_are_refused_by_name(policy: Any, term: str) -> None:
    with pytest.raises(UnsupportedPolicy) as info:
        normalise_policy(policy)
    assert info.value.extra == {"term": term}
    assert info.value.status == 422 and info.value.code == "unsupported-policy"
    assert info.value.detail


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(
        ["use", "eq", "isAnyOf", "lteq", "gt", "purpose", "dateTime", "count", "spatial",
         "recipient", "dodata:orgType", "dodata:consentRequired", "DE", "_:EU", "research",
         "P3D", "2026-01-01T00:00:00Z", "2026-02-30T00:00Z", "@id", "@value", "and", "or"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["@id", "@value", "@list", "leftOperand", "operator", "rightOperand",
                         "and", "action", "constraint"]), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(constraint=st.dictionaries(st.sampled_from(["leftOperand", "operator", "rightOperand",
                                                   "and", "odrl:or", "@type"]), JSON),
       duty=st.dictionaries(st.sampled_from(["action", "constraint", "@type"]), JSON))
def test_anything_either_normalises_or_is_refused(constraint: dict[str, Any],
                                                  duty: dict[str, Any]) -> None:
    try:
        result = normalise_policy(offer(constraint, duty=[duty]))
    except UnsupportedPolicy as exc:
        assert isinstance(exc.extra["term"], str) and exc.extra["term"]
    else:
        assert set(result) == set(EMPTY)
        assert normalised_policy(result) == result


# --- the decision input ---------------------------------------------------------------------

NOW = "2026-11-28T12:00:00Z"
NOW_S = 1795867200


def test_build_input_fills_every_default() -> None:
    doc = build_input(action="catalog", subject={}, resource={}, policy={},
                      context={"now": NOW})
    assert doc == {
        "action": "catalog",
        "subject": {"participant": None, "roles": [], "org_type": None, "region": None,
                    "region_path": []},
        "resource": {"dataset": None, "owner": None, "personal_data": True,
                     "data_subject": None},
        "policy": {"id": None, "kind": None, "target": None, "assigner": None,
                   "purposes": None, "window": {"not_before": None, "not_after": None},
                   "max_count": None, "assignees": None, "org_types": None, "regions": None,
                   "consent_required": False, "approval_required": False, "duties": []},
        "context": {"now": NOW_S, "purpose": None, "usage_count": 0, "consents": [],
                    "approval": {"status": "none", "participant": None, "dataset": None}},
    }


def test_build_input_full() -> None:
    doc = build_input(
        action="transfer",
        subject={"participant": P, "roles": ("partner",), "region": "DE-NW",
                 "org_type": "company", "client_id": "dropped"},
        resource={"dataset": "urn:d", "owner": OWNER, "personal_data": False,
                  "data_subject": "urn:s", "title": "dropped"},
        policy=offer(c("purpose", "eq", "research")),
        context={"now": datetime(2026, 11, 28, 13, 0, 0, 999, tzinfo=timezone(timedelta(hours=1))),
                 "purpose": "research", "usage_count": 2,
                 "consents": [{"subject": "urn:s", "recipient": P, "purpose": "research",
                               "granted_at": datetime(2026, 1, 1),  # naive: UTC
                               "expires_at": "2027-01-01T00:00:00+00:00",
                               "withdrawn_at": None, "id": "dropped"}],
                 "approval": {"status": "approved", "participant": P, "dataset": "urn:d"}},
    )
    assert doc["subject"] == {"participant": P, "roles": ["partner"], "org_type": "company",
                              "region": "DE-NW", "region_path": ["DE-NW", "DE", "EU"]}
    assert doc["resource"] == {"dataset": "urn:d", "owner": OWNER, "personal_data": False,
                               "data_subject": "urn:s"}
    assert doc["policy"] == engine_view(expect(purposes=["research"]))
    assert doc["context"] == {
        "now": NOW_S, "purpose": "research", "usage_count": 2,
        "consents": [{"subject": "urn:s", "recipient": P, "purpose": "research",
                      "dataset": None, "granted_at": 1767225600, "expires_at": 1798761600,
                      "withdrawn_at": None}],
        "approval": {"status": "approved", "participant": P, "dataset": "urn:d"},
    }
    assert json.loads(json.dumps(doc)) == doc
    # The output is a fixed point: building from it changes nothing.
    assert build_input(**doc) == doc


def test_build_input_policy_none_is_null() -> None:
    assert build_input(action="negotiate", subject={}, resource={}, policy=None,
                       context={"now": 0})["policy"] is None


@pytest.mark.parametrize(("value", "expected"), [
    (NOW, NOW_S), ("2026-11-28T13:00:00+01:00", NOW_S), ("2026-11-28T12:00:00", NOW_S),
    ("2026-11-28T12:00:00.999Z", NOW_S), (datetime(2026, 11, 28, 12, tzinfo=UTC), NOW_S),
    (datetime(2026, 11, 28, 12), NOW_S), (NOW_S, NOW_S), (NOW_S + 0.75, NOW_S),
    ("1969-12-31T23:59:59.5Z", -1),
])
def test_times_become_whole_epoch_seconds(value: Any, expected: int) -> None:
    assert to_epoch(value, field="t") == expected
    doc = build_input(action="negotiate", subject={}, resource={}, policy={},
                      context={"now": value})
    assert doc["context"]["now"] == expected


def test_missing_now_is_the_current_time() -> None:
    before = int(time.time())
    doc = build_input(action="negotiate", subject={}, resource={}, policy={}, context={})
    assert before <= doc["context"]["now"] <= int(time.time())


@pytest.mark.parametrize("value", ["yesterday", True, [], float("nan"), {"t": 1}])
def test_bad_times_raise(value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape("context.now:")):
        build_input(action="negotiate", subject={}, resource={}, policy={},
                    context={"now": value})


BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("action", {"action": 5}),
    ("subject.participant", {"subject": {"participant": ["a"]}}),
    ("subject.roles", {"subject": {"roles": "partner"}}),
    ("resource.personal_data", {"resource": {"personal_data": "no"}}),
    ("context.usage_count", {"context": {"now": 0, "usage_count": -1}}),
    ("context.usage_count", {"context": {"now": 0, "usage_count": True}}),
    ("context.consents", {"context": {"now": 0, "consents": "all"}}),
    ("context.consents", {"context": {"now": 0, "consents": ["yes"]}}),
    ("consent.granted_at", {"context": {"now": 0, "consents": [{"granted_at": "soon"}]}}),
    ("context.approval", {"context": {"now": 0, "approval": "approved"}}),
    ("context.approval.status", {"context": {"now": 0, "approval": {"status": "ok"}}}),
    ("unknown keys", {"policy": {"purposes": None, "permissions": []}}),
    ("policy.purposes", {"policy": {"purposes": "research"}}),
    ("policy.window", {"policy": {"window": [1, 2]}}),
    ("policy.window.not_after", {"policy": {"window": {"not_after": "never"}}}),
    ("policy.max_count", {"policy": {"max_count": 2.5}}),
    ("policy.consent_required", {"policy": {"consent_required": 1}}),
    ("policy.id", {"policy": {"id": 7}}),
    ("policy.duties", {"policy": {"duties": [{"type": "pay"}]}}),
    ("policy.duties", {"policy": {"duties": ["notify_owner"]}}),
    ("duty.days", {"policy": {"duties": [{"type": "delete_after"}]}}),
]


@pytest.mark.parametrize(("field", "change"), [(f, ch) for f, ch in BAD_INPUTS],
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_INPUTS)])
def test_malformed_input_raises(field: str, change: dict[str, Any]) -> None:
    args: dict[str, Any] = {"action": "negotiate", "subject": {}, "resource": {}, "policy": {},
                            "context": {"now": 0}, **change}
    with pytest.raises(ValueError, match=re.escape(field)):
        build_input(**args)


def test_odrl_policy_given_to_build_input_is_normalised_or_refused() -> None:
    doc = build_input(action="catalog", subject={}, resource={}, context={"now": 0},
                      policy=offer(c("spatial", "eq", "DE")))
    assert doc["policy"]["regions"] == ["DE"]
    with pytest.raises(UnsupportedPolicy):
        build_input(action="catalog", subject={}, resource={}, context={"now": 0},
                    policy=offer(c("partner", "eq", "gold")))


def test_stored_normalised_policy_keeps_its_values() -> None:
    stored = expect(max_count=0, duties=[{"type": "delete_after", "days": 0}],
                    window={"not_before": 5, "not_after": None})
    assert normalised_policy(stored) == engine_view(stored)


@settings(max_examples=200, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                           timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)),
                                                      timezone(timedelta(hours=5, minutes=30))])))
def test_epoch_matches_the_standard_library(moment: datetime) -> None:
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    assert to_epoch(moment, field="t") == expected
    assert to_epoch(moment.isoformat(), field="t") == expected
