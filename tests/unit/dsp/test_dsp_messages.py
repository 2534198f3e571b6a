"""connector.dsp.messages: official examples in, precise reasons for what is wrong."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connector.dsp import jsonld
from connector.dsp.errors import InvalidMessage, UnknownContext
from connector.dsp.messages import (
    MESSAGE_TYPES,
    Catalog,
    CatalogError,
    CatalogRequestMessage,
    ContractAgreementMessage,
    ContractNegotiationEventMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    DataAddress,
    DataService,
    Dataset,
    DidService,
    Distribution,
    EndpointProperty,
    TransferCompletionMessage,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    VersionResponse,
    dump_message,
    parse_message,
)
from connector.dsp.odrl import AtomicConstraint, LogicalConstraint, MessageOffer, Offer, Permission

SHARED = Path(os.environ.get("DSP_SHARED_DIR")
              or Path(__file__).resolve().parents[3].parent / "shared" / "dsp-2025-1")
EXAMPLES = sorted(SHARED.glob("*/example/*.json"))
CTX = jsonld.DSP_CONTEXT


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / name).read_text())
    return data


def reason_of(doc: Any, expected: Any = None) -> str:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(doc, expected)
    return caught.value.reason


def test_every_example_is_found() -> None:
    assert len(EXAMPLES) == 27


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_official_example_is_accepted_and_dumped_back(path: Path) -> None:
    doc = json.loads(path.read_text())
    model = parse_message(doc)
    assert dump_message(model) == doc
    assert parse_message(doc, type(model)) == model


@pytest.mark.parametrize("path", [p for p in EXAMPLES if "@context" in p.read_text()
                                  and "did/v1" not in p.read_text()], ids=lambda p: p.name)
def test_official_example_expanded_parses_equal(path: Path) -> None:
    doc = json.loads(path.read_text())
    expanded = jsonld.expand(doc)
    assert parse_message(expanded) == parse_message(doc)
    assert parse_message(expanded[0]) == parse_message(doc)


def test_message_types_cover_every_document_type() -> None:
    assert set(MESSAGE_TYPES) == {
        "CatalogRequestMessage", "DatasetRequestMessage", "Catalog", "Dataset", "CatalogError",
        "ContractRequestMessage", "ContractOfferMessage", "ContractAgreementMessage",
        "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage",
        "ContractNegotiationTerminationMessage", "ContractNegotiation", "ContractNegotiationError",
        "TransferRequestMessage", "TransferStartMessage", "TransferSuspensionMessage",
        "TransferCompletionMessage", "TransferTerminationMessage", "TransferProcess",
        "TransferError"}


def test_expected_type_is_checked_and_returned() -> None:
    doc = load("negotiation/example/contract-request-message.json")
    message = parse_message(doc, ContractRequestMessage)
    assert message.consumer_pid == "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833"
    assert not message.initial and message.offer.permission is not None
    assert parse_message(doc, (ContractOfferMessage, ContractRequestMessage)) == message
    assert reason_of(doc, TransferRequestMessage) == (
        "wrong @type 'ContractRequestMessage': expected TransferRequestMessage")
    assert reason_of(doc, (ContractOfferMessage, ContractAgreementMessage)) == (
        "wrong @type 'ContractRequestMessage': expected ContractOfferMessage or "
        "ContractAgreementMessage")


@pytest.mark.parametrize(("doc", "reason"), [
    ("{}", "a DSP message must be a JSON object, got a string"),
    ([1], "got a list of 1 item"),
    (3.5, "got a number"),
    ({"@context": [CTX], "@type": "Foo"},
     "unknown @type 'Foo': expected a DSP 2025-1 message type"),
    ({"@context": [CTX], "@type": "DataAddress", "endpointType": "x"},
     "unknown @type 'DataAddress'"),
    ({"@context": [CTX]}, "missing @type"),
    ({"@context": [CTX], "@type": ["CatalogError", "TransferError"]},
     "@type must be a single type"),
    ({"@context": [CTX], "consumerPid": "urn:c"},
     "missing @type (ignored, not terms of the DSP 2025-1 context: 'consumerPid')"),
])
def test_malformed_documents(doc: Any, reason: str) -> None:
    assert reason in reason_of(doc)


def test_missing_consumer_pid() -> None:
    doc = load("negotiation/example/contract-request-message.json")
    del doc["consumerPid"]
    assert reason_of(doc) == "ContractRequestMessage: missing required field 'consumerPid'"


def test_misspelt_field_is_named_as_ignored() -> None:
    doc = load("transfer/example/transfer-completion-message.json")
    doc["consumerPID"] = doc.pop("consumerPid")
    assert reason_of(doc) == (
        "TransferCompletionMessage: missing required field 'consumerPid' "
        "(ignored, not terms of the DSP 2025-1 context: 'consumerPID')")


def test_unknown_context_url() -> None:
    doc = load("transfer/example/transfer-process.json")
    doc["@context"] = [CTX, "https://example.org/edc/v0.0.1/context.jsonld"]
    with pytest.raises(UnknownContext) as caught:
        parse_message(doc)
    assert caught.value.url == "https://example.org/edc/v0.0.1/context.jsonld"
    assert "https://example.org/edc/v0.0.1/context.jsonld" in caught.value.reason


def test_expanded_with_wrong_property_iri() -> None:
    [node] = jsonld.expand(load("transfer/example/transfer-process.json"))
    node["https://w3id.org/dspace/2024/1/state"] = node.pop("https://w3id.org/dspace/2025/1/state")
    assert reason_of([node]) == (
        "TransferProcess: missing required field 'state' (unrecognised properties there: "
        "'https://w3id.org/dspace/2024/1/state')")


def test_expanded_with_wrong_type_iri() -> None:
    [node] = jsonld.expand(load("transfer/example/transfer-process.json"))
    node["@type"] = ["https://w3id.org/dspace/2024/1/TransferProcess"]
    assert reason_of(node, TransferProcess) == (
        "unknown @type 'https://w3id.org/dspace/2024/1/TransferProcess': expected TransferProcess")


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda d: d.update(eventType="STARTED"),
     "eventType: bad value 'STARTED': input should be 'ACCEPTED' or 'FINALIZED'"),
    (lambda d: d.update(providerPid=["urn:a", "urn:b"]),
     "providerPid: bad value ['urn:a', 'urn:b']"),
    (lambda d: d.update(eventType=None), "missing required field 'eventType'"),
])
def test_bad_values(edit: Any, reason: str) -> None:
    doc = load("negotiation/example/contract-negotiation-event-message.json")
    edit(doc)
    doc = {k: v for k, v in doc.items() if v is not None}
    assert reason in reason_of(doc)


def test_nested_reasons_name_the_path() -> None:
    doc = load("negotiation/example/contract-agreement-message-full.json")
    agreement = doc["agreement"]
    agreement["permission"][1]["constraint"][0]["and"][1]["operator"] = "between"
    agreement["timestamp"] = "yesterday"
    del agreement["assignee"]
    reason = reason_of(doc)
    assert reason.startswith("ContractAgreementMessage: ")
    assert "agreement: missing required field 'assignee'" in reason
    assert "agreement.permission[1].constraint[0].and[1].operator: bad value 'between'" in reason
    assert "agreement.timestamp: 'yesterday' is not an XSD dateTime" in reason


def test_nested_type_is_required_on_the_wire_but_defaulted_in_code() -> None:
    doc = load("negotiation/example/contract-agreement-message.json")
    del doc["agreement"]["@type"]
    assert reason_of(doc) == "ContractAgreementMessage: agreement: missing required field '@type'"
    service = DataService(id="urn:s", endpoint_url="https://p.example")
    assert dump_message(Catalog(id="urn:c", participant_id="p", service=[service]))["service"] == [
        {"@type": "DataService", "@id": "urn:s", "endpointURL": "https://p.example"}]


def test_contract_request_is_initial_or_not_never_both() -> None:
    doc = load("negotiation/example/contract-request-message.json")
    assert "has both 'callbackAddress' and 'providerPid'" in reason_of(
        {**doc, "callbackAddress": "https://c.example/cb"})
    del doc["providerPid"]
    assert "needs 'callbackAddress' (the initial request) or 'providerPid'" in reason_of(doc)
    assert parse_message({**doc, "callbackAddress": "https://c.example/cb"},
                         ContractRequestMessage).initial


def test_contract_offer_is_initial_or_not_never_both() -> None:
    doc = load("negotiation/example/contract-offer-message_initial.json")
    assert parse_message(doc, ContractOfferMessage).initial
    assert "has both 'callbackAddress' and 'consumerPid'" in reason_of({**doc, "consumerPid": "c"})


@pytest.mark.parametrize("name", ["contract-request-message.json", "contract-offer-message.json"])
def test_offer_in_a_negotiation_message_needs_a_target(name: str) -> None:
    doc = load(f"negotiation/example/{name}")
    del doc["offer"]["target"]
    assert "offer: missing required field 'target'" in reason_of(doc)


def test_offer_in_a_catalog_has_no_target() -> None:
    doc = load("catalog/example/dataset.json")
    doc["hasPolicy"][0]["target"] = doc["@id"]
    assert "hasPolicy[0]: an offer in a catalog must not have 'target'" in reason_of(doc)


def test_rules_have_no_target() -> None:
    doc = load("negotiation/example/contract-agreement-message.json")
    doc["agreement"]["permission"][0]["target"] = "urn:x"
    assert "agreement.permission[0]: a rule must not have 'target'" in reason_of(doc)


def test_policy_needs_a_permission_or_prohibition() -> None:
    doc = load("negotiation/example/contract-offer-message.json")
    del doc["offer"]["permission"]
    assert "offer: a policy needs a 'permission' or a 'prohibition'" in reason_of(doc)
    doc["offer"]["prohibition"] = [{"action": "distribute"}]
    assert parse_message(doc, ContractOfferMessage).offer.prohibition is not None


def test_top_level_catalog_needs_participant_id_nested_ones_not() -> None:
    doc = load("catalog/example/nested-catalog.json")
    assert parse_message(doc, Catalog).catalog is not None
    del doc["participantId"]
    assert reason_of(doc) == (
        "Catalog: missing required field 'participantId' (top-level Catalog)")
    with pytest.raises(InvalidMessage, match="participantId"):
        dump_message(Catalog(id="urn:c"))


def test_catalog_has_no_policy_and_may_have_no_datasets() -> None:
    doc = load("catalog/example/catalog.json")
    policy = doc["dataset"][0]["hasPolicy"]
    with pytest.raises(ValidationError, match="a catalog must not have 'hasPolicy'"):
        Catalog.model_validate({**doc, "hasPolicy": policy})
    # On the wire the Catalog's context does not define hasPolicy: JSON-LD drops it.
    assert parse_message({**doc, "hasPolicy": policy}) == parse_message(doc)
    empty = parse_message({**doc, "dataset": []}, Catalog)
    assert empty.dataset is None and "dataset" not in dump_message(empty)


def test_logical_constraint_has_exactly_one_operator() -> None:
    atomic = {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}
    logical = LogicalConstraint.model_validate({"or": atomic})  # one operand compacts to an object
    assert logical.operator == "or"
    assert logical.operands == [AtomicConstraint.model_validate(atomic)]
    with pytest.raises(ValidationError, match="exactly one of 'and', 'andSequence', 'or', 'xone'"):
        LogicalConstraint.model_validate({"and": [atomic], "xone": [atomic]})


def test_right_operand_kinds() -> None:
    for right in ("x", ["a", "b"], {"@value": "1", "@type": "xsd:integer"}):
        assert AtomicConstraint(left_operand="count", operator="lt", right_operand=right)
    with pytest.raises(ValidationError, match="must be a string, an object or an array"):
        AtomicConstraint.model_validate({"leftOperand": "x", "operator": "eq", "rightOperand": 5})


def test_typo_in_code_fails_but_extension_properties_are_kept() -> None:
    with pytest.raises(ValidationError, match="unknown field 'callback_adress'"):
        TransferCompletionMessage(provider_pid="p", consumer_pid="c", callback_adress="x")
    dataset = load("catalog/example/dataset.json")
    dataset["dct:title"] = "Luftqualität Dortmund"
    parsed = parse_message(dataset, Dataset)
    assert parsed.model_extra == {"dct:title": "Luftqualität Dortmund"}
    assert dump_message(parsed)["dct:title"] == "Luftqualität Dortmund"


def test_a_field_given_by_name_and_by_alias_fails() -> None:
    with pytest.raises(ValidationError, match="field 'consumerPid' given twice"):
        TransferCompletionMessage.model_validate(
            {"providerPid": "p", "consumerPid": "c", "consumer_pid": "d"})


def test_models_built_in_code_dump_to_the_wire_form() -> None:
    rule = Permission(action="use", constraint=[
        AtomicConstraint(left_operand="purpose", operator="eq", right_operand="research")])
    request = ContractRequestMessage(
        consumer_pid="urn:c", callback_address="https://c.example/cb",
        offer=MessageOffer(id="urn:o", target="urn:d", permission=[rule]))
    assert dump_message(request) == {
        "@context": [CTX], "@type": "ContractRequestMessage", "consumerPid": "urn:c",
        "offer": {"@type": "Offer", "@id": "urn:o", "target": "urn:d", "permission": [
            {"action": "use", "constraint": [
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}]}]},
        "callbackAddress": "https://c.example/cb"}
    assert list(dump_message(request))[:2] == ["@context", "@type"]
    assert parse_message(dump_message(request)) == request


def test_data_address_properties() -> None:
    start = parse_message(load("transfer/example/transfer-start-message.json"),
                          TransferStartMessage)
    address = start.data_address
    assert isinstance(address, DataAddress)
    assert address.endpoint_property("authorization") == "TOKEN-ABCDEFG"
    assert address.endpoint_property("missing") is None
    pull = TransferRequestMessage(consumer_pid="c", agreement_id="a", format="HttpData-PULL",
                                  callback_address="https://c.example")
    assert "dataAddress" not in dump_message(pull)
    assert EndpointProperty(name="authType", value="bearer").type_ == "EndpointProperty"


def test_distribution_access_service_is_an_id_or_a_service() -> None:
    assert Distribution(format="f", access_service="urn:s").access_service == "urn:s"
    with pytest.raises(ValidationError, match="must be a DataService id or a DataService object"):
        Distribution.model_validate({"format": "f", "accessService": 1})


def test_version_document() -> None:
    doc = load("common/example/protocol-version.json")
    versions = parse_message(doc, VersionResponse)
    assert isinstance(versions, VersionResponse)
    assert [v.version for v in versions.protocol_versions] == ["2025-1", "2024-1", "2025-1"]
    assert reason_of({"protocolVersions": []}) == (
        "VersionResponse: protocolVersions: bad value []: list should have at least 1 item after "
        "validation, not 0")
    assert "wrong document: expected CatalogError, got a VersionResponse" in reason_of(
        doc, CatalogError)


def test_did_service_entries() -> None:
    catalog_entry = parse_message(load("common/example/catalogservice-did-service.json"))
    assert isinstance(catalog_entry, DidService) and catalog_entry.type == "CatalogService"
    bad = {**load("common/example/catalogservice-did-service.json"),
           "serviceEndpoint": "https://x.example/other"}
    assert "ending in '/catalog'" in reason_of(bad)
    assert "must contain 'https://w3id.org/dspace/2025/1/context.jsonld'" in reason_of(
        {**bad, "@context": ["https://www.w3.org/ns/did/v1"]})
    assert "serviceEndpoint must be an http(s) URL" in reason_of(
        {**load("common/example/dataservice-did-service.json"), "serviceEndpoint": "ftp://x"})


def test_parse_does_not_modify_its_input() -> None:
    doc = load("catalog/example/catalog.json")
    before = copy.deepcopy(doc)
    parse_message(doc)
    parse_message(jsonld.expand(doc))
    assert doc == before


def test_catalog_request_filter_and_event_helpers() -> None:
    assert dump_message(CatalogRequestMessage()) == {"@context": [CTX],
                                                     "@type": "CatalogRequestMessage"}
    event = ContractNegotiationEventMessage(provider_pid="p", consumer_pid="c",
                                            event_type="ACCEPTED")
    assert parse_message(dump_message(event)) == event
    assert Offer(id="urn:o", permission=[Permission(action="use")]).type_ == "Offer"


def _nested_request(depth: int) -> dict[str, Any]:
    leaf = {"leftOperand": "a", "operator": "eq", "rightOperand": "b"}
    constraint: dict[str, Any] = leaf
    for _ in range(depth):
        constraint = {"and": [constraint, leaf]}
    return {"@context": [CTX], "@type": "ContractRequestMessage", "consumerPid": "urn:c",
            "callbackAddress": "https://c.example/cb",
            "offer": {"@type": "Offer", "@id": "urn:o", "target": "urn:t",
                      "permission": [{"action": "use", "constraint": [constraint]}]}}


def test_deep_but_sane_nesting_is_parsed_absurd_nesting_refused() -> None:
    assert parse_message(_nested_request(150), ContractRequestMessage)
    assert reason_of(_nested_request(3000)) == "the document is nested too deeply"


def test_names_quoted_back_are_capped() -> None:
    doc = {"@context": [CTX], **{f"k{i}": 1 for i in range(50)}}
    assert reason_of(doc).endswith("'k0', 'k1', 'k10', 'k11', 'k12' and 45 more)")


def test_plain_json_expected_type_is_validated_as_such() -> None:
    entry = load("common/example/catalogservice-did-service.json")
    entry["@context"] = [CTX]
    assert reason_of(entry, DidService) == (
        "DidService: @context: must contain 'https://www.w3.org/ns/did/v1'")
