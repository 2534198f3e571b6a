"""The fast path (canonical.is_canonical) never disagrees with pyld.

Seeds: every official example plus hand-written documents covering the shapes the examples miss.
Hypothesis mutates them (tricky strings, wrapped/unwrapped arrays, extra or missing keys, other
types and contexts); whenever the fast path accepts a document, pyld must compact it to itself.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.dsp import bundle, canonical, jsonld
from connector.dsp.errors import InvalidMessage

SHARED = Path(os.environ.get("DSP_SHARED_DIR")
              or Path(__file__).resolve().parents[3].parent / "shared" / "dsp-2025-1")
CTX = bundle.DSP_CONTEXT
OFFICIAL = [json.loads(p.read_text()) for p in sorted(SHARED.glob("*/example/*.json"))]
OFFICIAL = [d for d in OFFICIAL if d.get("@context") == [CTX]]

_RULES = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["research", "planning"]},
    {"and": [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "DE-NW"},
             {"leftOperand": "https://w3id.org/dodata/policy#orgType", "operator": "neq",
              "rightOperand": "company"}]}],
    "duty": [{"action": "delete", "constraint": [
        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}]}]}],
    "prohibition": [{"action": "distribute"}], "obligation": [{"action": "inform"}]}
EXTRA = [
    {"@context": [CTX], "@type": "ContractRequestMessage", "consumerPid": "urn:c",
     "callbackAddress": "https://consumer.example/cb",
     "offer": {"@type": "Offer", "@id": "urn:offer:1", "target": "urn:dataset:air",
               "profile": "https://w3id.org/dodata/profile", "assigner": "did:web:dew21.example",
               "assignee": "did:web:partner.example", **_RULES}},
    {"@context": [CTX], "@type": "Catalog", "@id": "urn:catalog", "participantId": "did:web:p",
     "service": [{"@type": "DataService", "@id": "urn:svc", "endpointURL": "https://p.example/dsp",
                  "endpointDescription": "DSP 2025-1"}],
     "distribution": [{"@type": "Distribution", "format": "HttpData-PULL",
                       "accessService": "urn:svc"}],
     "dataset": [{"@type": "Dataset", "@id": "urn:dataset:air",
                  "hasPolicy": [{"@type": "Offer", "@id": "urn:offer:2", **_RULES}],
                  "distribution": [{"@type": "Distribution", "@id": "urn:dist", "format": "x:y",
                                    "accessService": {"@type": "DataService", "@id": "urn:svc",
                                                      "endpointURL": "https://p.example"}}]}]},
    {"@context": [CTX], "@type": "TransferStartMessage", "providerPid": "urn:p",
     "consumerPid": "urn:c", "dataAddress": {"@type": "DataAddress", "endpointType": "urn:http",
                                             "endpoint": "https://p.example/data"}},
    {"@context": [CTX], "@type": "CatalogError", "code": "x", "reason": []},
]
SEEDS = OFFICIAL + EXTRA

_STRINGS = [
    "urn:uuid:1", "urn:x", "", " ", "a b", "_:b0", "@id", "@foo", "dspace:x", "odrl:use", "use",
    "eq", "ACCEPTED", "REQUESTED", "Catalog", "Offer", "consumerPid", "dspace",
    "https://w3id.org/dspace/2025/1/x", "https://w3id.org/dspace/2025/1/ACCEPTED",
    "http://www.w3.org/ns/odrl/2/use", "http://www.w3.org/ns/odrl/2/eq",
    "http://purl.org/dc/terms/format", "dct:format", "xsd:string", "http://example.org/x", "./rel",
    "../up", "/abs", "#frag", "?q", "rel", "HttpData-PULL", "did:web:x.example", "ex:thing", "é",
    "\u0000", "a\tb", "id", "type", "dcat:", "http:", "x:", ":x", "mailto:a@b", "term-lteq",
]
_VALUES: list[Any] = [1, 2.5, True, None, {}, [], {"@id": "urn:x"}, {"@value": "x"},
                      {"@value": "1", "@type": "xsd:integer"}, ["a"], ["a", "a"], ["a", "b"]]
_KEYS = ["foo", "@id", "@type", "@context", "dspace:x", "http://example.org/p", "dct:title",
         "consumerPid", "providerPid", "offer", "target", "permission", "hasPolicy", "and",
         "rightOperand", "reason", "filter", "state", "format", "timestamp", "@value", "@list"]


def _slots(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            _slots(value, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            _slots(value, found)
    return found


def _mutate(doc: dict[str, Any], data: st.DataObject) -> None:
    slots = _slots(doc, [])
    strings = [(parent, key) for parent, key in slots if isinstance(parent[key], str)]
    kind = data.draw(st.sampled_from(["string"] * 5 + ["wrap"] * 3 + [
        "text", "value", "unwrap", "add", "delete", "context"]))
    on_strings = kind in ("string", "wrap", "text") and strings
    parent, key = data.draw(st.sampled_from(strings if on_strings else slots))
    value = parent[key]
    if kind == "string":
        parent[key] = data.draw(st.sampled_from(_STRINGS))
    elif kind == "text":
        parent[key] = data.draw(st.text(max_size=12))
    elif kind == "value":
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(_VALUES)))
    elif kind == "wrap":
        parent[key] = [value] if data.draw(st.booleans()) else [value, copy.deepcopy(value)]
    elif kind == "unwrap" and isinstance(value, list) and value:
        parent[key] = value[0]
    elif kind == "add" and isinstance(value, dict):
        value[data.draw(st.sampled_from(_KEYS))] = data.draw(
            st.sampled_from(_STRINGS) | st.sampled_from(_VALUES))
    elif kind == "delete" and isinstance(parent, dict) and key != "@context":
        del parent[key]
    elif kind == "context":
        doc["@context"] = data.draw(st.sampled_from(
            [CTX, [CTX], [CTX, {"ex": "http://example.org/"}], [CTX, CTX], {"dspace": "x:"}]))


def _slow(doc: Any) -> dict[str, Any] | None:
    try:
        return jsonld.compact(doc)
    except InvalidMessage:
        return None


@pytest.mark.parametrize("seed", SEEDS, ids=lambda d: d["@type"])
def test_seeds_take_the_fast_path_and_agree(seed: dict[str, Any]) -> None:
    assert canonical.is_canonical(seed, CTX)
    assert _slow(seed) == seed


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_path_agrees_with_pyld(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(doc, data)
    if canonical.is_canonical(doc, CTX):
        expected = {"@context": [CTX], **{k: v for k, v in doc.items() if k != "@context"}}
        assert _slow(doc) == expected


def test_normalise_skips_pyld_for_canonical_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pyld was run")

    monkeypatch.setattr(jsonld, "_compact", refuse)
    for seed in SEEDS:
        assert jsonld.normalise_incoming(seed) == seed
    with pytest.raises(AssertionError, match="pyld was run"):
        jsonld.normalise_incoming({**SEEDS[0], "dspace:x": "1"})


@pytest.mark.parametrize("doc", [
    {"@context": [CTX], "@type": ["CatalogError"]},
    {"@context": [CTX], "@type": "Offer", "@id": "urn:x"},
    {"@context": [CTX, CTX], "@type": "CatalogError"},
    {"@context": [CTX], "@type": "CatalogError", "reason": "one"},
    {"@context": [CTX], "@type": "ContractNegotiation", "providerPid": "dspace:p"},
    {"@context": [CTX], "@type": "ContractNegotiation", "state": "odrl:use"},
    {"@context": [CTX], "@type": "ContractNegotiation", "providerPid": "_:b0"},
])
def test_fast_path_declines(doc: dict[str, Any]) -> None:
    assert not canonical.is_canonical(doc, CTX)
