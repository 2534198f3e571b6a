"""connector.dsp.jsonld: bundled contexts only, expansion, compaction, normalisation."""

from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld as pyld

from connector.dsp import bundle, jsonld
from connector.dsp.errors import InvalidMessage, UnknownContext

SHARED = Path(os.environ.get("DSP_SHARED_DIR")
              or Path(__file__).resolve().parents[3].parent / "shared" / "dsp-2025-1")
EXAMPLES = sorted(p for p in SHARED.glob("*/example/*.json")
                  if "@context" in (d := json.loads(p.read_text()))
                  and bundle.DSP_CONTEXT in d["@context"] and len(d["@context"]) == 1)
CTX = bundle.DSP_CONTEXT
DSPACE = "https://w3id.org/dspace/2025/1/"
ODRL = "http://www.w3.org/ns/odrl/2/"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network touched: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_examples_found() -> None:
    assert len(EXAMPLES) == 24, [p.name for p in EXAMPLES]


@pytest.mark.parametrize("name", ["dspace.jsonld", "odrl.jsonld", "LICENSE"])
def test_bundled_files_are_the_published_ones(name: str) -> None:
    shipped = Path(bundle.__file__).parent / "contexts" / name
    published = SHARED / ("LICENSE" if name == "LICENSE" else f"context/{name}")
    assert shipped.read_bytes() == published.read_bytes()


def test_bundled_context_is_a_copy() -> None:
    first = bundle.bundled_context(CTX)
    first["@context"].clear()
    assert bundle.bundled_context(CTX)["@context"]["ContractRequestMessage"]
    with pytest.raises(UnknownContext):
        bundle.bundled_context("https://example.org/other.jsonld")


def test_loader_serves_bundled_contexts(no_network: None) -> None:
    for url in (CTX, bundle.ODRL_PROFILE):
        remote = jsonld.load_document(url, {})
        assert remote["documentUrl"] == url and remote["contextUrl"] is None
        assert "@context" in remote["document"]


def test_loader_applies_import_exactly_as_json_ld_defines_it() -> None:
    original = bundle.bundled_context(CTX)["@context"]
    odrl = bundle.bundled_context(bundle.ODRL_PROFILE)["@context"]
    served = jsonld.load_document(CTX)["document"]["@context"]
    assert "@import" not in json.dumps(served)
    for name, definition in original.items():
        scoped = definition.get("@context", {}) if isinstance(definition, dict) else {}
        if "@import" in scoped:
            assert scoped["@import"] == bundle.ODRL_PROFILE
            expected = {**odrl, **{k: v for k, v in scoped.items() if k != "@import"}}
            assert served[name]["@context"] == expected, name
        else:
            assert served[name] == definition, name


def test_unknown_context_is_refused_without_network(no_network: None) -> None:
    url = "https://example.org/never-fetched.jsonld"
    with pytest.raises(UnknownContext) as caught:
        jsonld.load_document(url, {})
    assert caught.value.url == url and url in caught.value.reason
    doc = {"@context": [CTX, url], "@type": "TransferCompletionMessage",
           "providerPid": "urn:p", "consumerPid": "urn:c"}
    for operation in (jsonld.expand, jsonld.compact, jsonld.normalise_incoming):
        with pytest.raises(UnknownContext, match="never-fetched"):
            operation(doc)


def test_scoped_import_of_an_unknown_context_is_refused() -> None:
    with pytest.raises(UnknownContext, match="other"):
        bundle._apply_imports({"T": {"@context": {"@import": "https://example.org/other"}}}, {})


def test_install_document_loader() -> None:
    before = pyld.get_document_loader()
    try:
        jsonld.install_document_loader()
        assert pyld.get_document_loader() is jsonld.load_document
    finally:
        pyld.set_document_loader(before)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trips_through_expansion(path: Path) -> None:
    doc = load(path)
    expanded = jsonld.expand(doc)
    assert jsonld.compact(expanded) == doc
    assert jsonld.compact(doc) == doc
    assert jsonld.normalise_incoming(expanded) == doc
    assert jsonld.normalise_incoming(doc) == doc


def test_expansion_does_not_depend_on_what_was_processed_before() -> None:
    """pyld's @import cache leaked one type-scoped context into the next (see bundle.served)."""
    forward = [jsonld.expand(load(p)) for p in EXAMPLES]
    jsonld._RESOLVED.clear()
    backward = [jsonld.expand(load(p)) for p in reversed(EXAMPLES)]
    assert forward == list(reversed(backward))


def test_agreement_expands_as_the_context_says() -> None:
    jsonld.expand(load(SHARED / "catalog/example/dataset.json"))  # once poisoned the next one
    expanded = jsonld.expand(load(SHARED / "negotiation/example/contract-agreement-message.json"))
    agreement = expanded[0][DSPACE + "agreement"][0]
    assert agreement["@type"] == [ODRL + "Agreement"]
    assert agreement[DSPACE + "timestamp"] == [{"@value": "2023-01-01T01:00:00Z"}]
    assert agreement[ODRL + "assigner"] == [{"@id": "http://example.com/Provider"}]
    constraint = agreement[ODRL + "permission"][0][ODRL + "constraint"][0]
    assert constraint[ODRL + "operator"] == [{"@id": ODRL + "lteq"}]
    # No @vocab and no base: a left operand that is no term stays a relative IRI.
    assert constraint[ODRL + "leftOperand"] == [{"@id": "dateTime"}]


def test_catalog_expands_as_the_context_says() -> None:
    jsonld.expand(load(SHARED / "negotiation/example/contract-agreement-message.json"))
    [catalog] = jsonld.expand(load(SHARED / "catalog/example/catalog.json"))
    dcat = "http://www.w3.org/ns/dcat#"
    assert catalog[DSPACE + "participantId"] == [{"@id": "urn:example:DataProviderA"}]
    [dataset] = catalog[dcat + "dataset"]
    assert [p["@type"] for p in dataset[ODRL + "hasPolicy"]] == [[ODRL + "Offer"]]
    [distribution] = dataset[dcat + "distribution"]
    assert distribution["http://purl.org/dc/terms/format"] == [{"@id": "HttpData-PULL"}]
    # accessService has no @id coercion in the context: the reference is a plain literal.
    assert distribution[dcat + "accessService"] == [
        {"@value": "urn:uuid:4aa2dcc8-4d2d-569e-d634-8394a8834d77"}]


def _event(**extra: Any) -> dict[str, Any]:
    return {"@context": [CTX], "@type": "ContractNegotiationEventMessage",
            "providerPid": "urn:p", "consumerPid": "urn:c", "eventType": "ACCEPTED", **extra}


@pytest.mark.parametrize("variant", [
    {"@context": CTX},
    {"@context": [CTX, {"ex": "http://example.org/"}]},
    {"@context": [CTX, {"ex": "http://example.org/"}], "dspace:providerPid": {"@id": "urn:p"},
     "providerPid": None},
    {"@context": {"dspace": DSPACE}, "@type": "dspace:ContractNegotiationEventMessage",
     "dspace:providerPid": {"@id": "urn:p"}, "dspace:consumerPid": {"@id": "urn:c"},
     "dspace:eventType": {"@id": "dspace:ACCEPTED"}, "providerPid": None, "consumerPid": None,
     "eventType": None},
    {"eventType": DSPACE + "ACCEPTED", "consumerPid": ["urn:c"]},
    {"@type": [DSPACE + "ContractNegotiationEventMessage"], "@context": {"dspace": DSPACE},
     "dspace:providerPid": {"@id": "urn:p"}, "dspace:consumerPid": {"@id": "urn:c"},
     DSPACE + "eventType": {"@id": DSPACE + "ACCEPTED"}, "providerPid": None, "consumerPid": None,
     "eventType": None},
])
def test_normalise_accepts_other_compactions(variant: dict[str, Any]) -> None:
    doc = {k: v for k, v in {**_event(), **variant}.items() if v is not None}
    assert jsonld.normalise_incoming(doc) == _event()


def test_type_scoped_terms_need_the_type_as_a_term() -> None:
    """JSON-LD applies a type-scoped context only for the term itself, not ``dspace:Type``."""
    doc = _event(**{"@type": "dspace:ContractNegotiationEventMessage"})
    normalised, dropped = jsonld.normalise_with_report(doc)
    assert normalised == {"@context": [CTX], "@type": "ContractNegotiationEventMessage"}
    assert sorted(dropped) == ["consumerPid", "eventType", "providerPid"]


def test_normalise_keeps_extension_properties_as_compact_iris() -> None:
    doc = _event(**{"http://purl.org/dc/terms/title": "hello"})
    assert jsonld.normalise_incoming(doc) == _event(**{"dct:title": "hello"})


def test_normalise_reports_dropped_terms() -> None:
    doc = _event(consumerPID="urn:x")
    normalised, dropped = jsonld.normalise_with_report(doc)
    assert normalised == _event() and dropped == ["consumerPID"]


def test_normalise_returns_a_new_top_level_object() -> None:
    doc = _event()
    result = jsonld.normalise_incoming(doc)
    result["consumerPid"] = "changed"
    assert doc == _event()


@pytest.mark.parametrize(("doc", "reason"), [
    ("text", "must be a JSON object, got a string"),
    (42, "must be a JSON object, got a number"),
    (None, "must be a JSON object, got null"),
    ([], "got a list of 0 item"),
    ([{"@type": ["x:a"]}, {"@type": ["x:b"]}], "got a list of 2 item"),
    ({"@type": "TransferCompletionMessage", "providerPid": "urn:p"},
     "missing @context: 'providerPid', @type 'TransferCompletionMessage'"),
    ({"@context": [CTX, {"ContractNegotiationEventMessage": "http://evil.example/x"}],
      "@type": "ContractNegotiationEventMessage"}, "protected term redefinition"),
    ({"@context": CTX, "@graph": [{"@id": "urn:a", "dspace:x": "1"},
                                   {"@id": "urn:b", "dspace:x": "2"}]}, "several"),
])
def test_normalise_refuses(doc: Any, reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        jsonld.normalise_incoming(doc)
    assert reason in caught.value.reason


def test_expanded_input_without_context_is_accepted() -> None:
    expanded = jsonld.expand(_event())
    assert isinstance(expanded, list) and jsonld.normalise_incoming(expanded[0]) == _event()
    assert jsonld.normalise_incoming(copy.deepcopy(expanded)) == _event()
