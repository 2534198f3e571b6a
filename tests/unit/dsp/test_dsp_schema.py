"""Everything the connector dumps validates against the official DSP 2025-1 JSON schemas.

The schemas ``$ref`` each other by their ``https://w3id.org/dspace/2025/1/...`` ids; a local
``referencing`` registry serves them and refuses anything else, so nothing is fetched.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft201909Validator
from referencing import Registry, Resource

from connector.dsp import jsonld
from connector.dsp.base import DspModel
from connector.dsp.messages import (
    Auth,
    Catalog,
    CatalogError,
    CatalogRequestMessage,
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationError,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    DataAddress,
    DataService,
    Dataset,
    DatasetRequestMessage,
    DidService,
    Distribution,
    EndpointProperty,
    NegotiationState,
    ProtocolVersion,
    TransferCompletionMessage,
    TransferError,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferState,
    TransferSuspensionMessage,
    TransferTerminationMessage,
    VersionResponse,
    dump_message,
    parse_message,
)
from connector.dsp.odrl import (
    Agreement,
    AtomicConstraint,
    Duty,
    LogicalConstraint,
    MessageOffer,
    Offer,
    Operator,
    Permission,
    Prohibition,
)

SHARED = Path(os.environ.get("DSP_SHARED_DIR")
              or Path(__file__).resolve().parents[3].parent / "shared" / "dsp-2025-1")
# The official transfer schemas write "...schema.json#definitions/X": not a JSON pointer
# (no leading "/"), so a conforming resolver rejects it. Fixed here, in memory only.
_BAD_POINTER = "#definitions/"


def _refuse(uri: str) -> Resource:
    raise LookupError(f"not fetching {uri}")


def _load_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in sorted(SHARED.glob("*/*-schema.json")):
        text = path.read_text().replace(_BAD_POINTER, "#/definitions/")
        schema = json.loads(text)
        schemas[path.name] = schema
    return schemas


SCHEMAS = _load_schemas()
# (mypy does not see the attrs-generated __init__ of Registry)
REGISTRY: Registry = Registry(retrieve=_refuse).with_resources(  # type: ignore[call-arg]
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())


def schema_file(model: DspModel) -> str:
    if isinstance(model, VersionResponse):
        return "protocol-version-schema.json"
    name = re.sub(r"(?<!^)(?=[A-Z])", "-", type(model).__name__).lower()
    return f"{name}-schema.json"


def schema_errors(model: DspModel) -> list[str]:
    validator = Draft201909Validator(SCHEMAS[schema_file(model)], registry=REGISTRY)
    wire = dump_message(model)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(wire)]


def assert_schema_valid(model: DspModel) -> dict[str, Any]:
    errors = schema_errors(model)
    assert not errors, errors
    return dump_message(model)


def test_the_pointer_fix_is_still_needed() -> None:
    raw = (SHARED / "transfer/transfer-error-schema.json").read_text()
    assert "transfer-schema.json#definitions/AbstractTransferCodeMessage" in raw


def test_registry_never_fetches() -> None:
    with pytest.raises(LookupError):
        REGISTRY.get_or_retrieve("https://example.org/other-schema.json")


@pytest.mark.parametrize("path", sorted(SHARED.glob("*/example/*.json")), ids=lambda p: p.name)
def test_dumped_examples_validate(path: Path) -> None:
    model = parse_message(json.loads(path.read_text()))
    if path.name == "dataservice-did-service.json":
        # The official example breaks its own schema: every serviceEndpoint must end in /catalog.
        assert schema_errors(model) == [
            "serviceEndpoint: 'https://bar.example.com/some/path/.well-known/dspace-version' "
            "does not match 'https?://.*?/catalog$'"]
        return
    assert_schema_valid(model)


# Representative messages: every type, every optional part at least once.
_RULE = Permission(action="use", constraint=[
    AtomicConstraint(left_operand="purpose", operator="isAnyOf", right_operand=["a", "b"]),
    LogicalConstraint(or_=[
        AtomicConstraint(left_operand="spatial", operator="eq", right_operand="DE-NW"),
        AtomicConstraint(left_operand="dateTime", operator="lteq",
                         right_operand={"@value": "2030-01-01T00:00:00Z",
                                        "@type": "xsd:dateTime"})])],
    duty=[Duty(action="delete", constraint=[
        AtomicConstraint(left_operand="elapsedTime", operator="lteq", right_operand="P30D")])])
_OFFER = MessageOffer(id="urn:offer:1", target="urn:dataset:1", permission=[_RULE],
                      prohibition=[Prohibition(action="distribute")],
                      obligation=[Duty(action="inform")], profile=["https://a.example/p",
                                                                   "https://b.example/p"])
_AGREEMENT = Agreement(id="urn:agreement:1", target="urn:dataset:1", assigner="did:web:p.example",
                       assignee="did:web:c.example", timestamp="2025-06-01T12:00:00+02:00",
                       permission=[_RULE], profile="https://a.example/p")
_SERVICE = DataService(id="urn:svc", endpoint_url="https://p.example/dsp",
                       endpoint_description="DSP 2025-1")
_DATASET = Dataset(id="urn:dataset:1", has_policy=[
    Offer(id="urn:offer:1", permission=[_RULE], assignee="did:web:c.example")],
    distribution=[Distribution(format="HttpData-PULL", access_service="urn:svc"),
                  Distribution(format="HttpData-PUSH", access_service=_SERVICE,
                               has_policy=[Offer(id="urn:offer:2", permission=[_RULE])])])
_ADDRESS = DataAddress(endpoint_type="https://w3id.org/idsa/v4.1/HTTP",
                       endpoint="https://c.example/in",
                       endpoint_properties=[EndpointProperty(name="authorization", value="t")])
_PIDS = {"provider_pid": "urn:p", "consumer_pid": "urn:c"}
_CODE = {"code": "policy-denied",
         "reason": ["purpose not allowed", {"@value": "Zweck nicht erlaubt", "@language": "de"}]}
TABLE: list[DspModel] = [
    CatalogRequestMessage(), CatalogRequestMessage(filter=[]),
    DatasetRequestMessage(dataset="urn:dataset:1"),
    CatalogError(), CatalogError(code="x", reason=[]),
    Catalog(id="urn:catalog", participant_id="did:web:p.example", service=[_SERVICE],
            dataset=[_DATASET], catalog=[Catalog(id="urn:sub", dataset=[_DATASET])],
            distribution=[Distribution(format="Catalog", access_service="urn:svc")]),
    Catalog(id="urn:empty", participant_id="did:web:p.example", dataset=None),
    _DATASET,
    ContractRequestMessage(consumer_pid="urn:c", offer=_OFFER, callback_address="https://c.e/cb"),
    ContractRequestMessage(**_PIDS, offer=_OFFER),
    ContractOfferMessage(provider_pid="urn:p", offer=_OFFER, callback_address="https://p.e/cb"),
    ContractOfferMessage(**_PIDS, offer=_OFFER),
    ContractAgreementMessage(**_PIDS, agreement=_AGREEMENT),
    ContractAgreementVerificationMessage(**_PIDS),
    ContractNegotiationEventMessage(**_PIDS, event_type="FINALIZED"),
    ContractNegotiationTerminationMessage(**_PIDS), ContractNegotiationTerminationMessage(
        **_PIDS, **_CODE),
    *[ContractNegotiation(**_PIDS, state=s) for s in get_args(NegotiationState)],
    ContractNegotiationError(**_PIDS, **_CODE),
    TransferRequestMessage(consumer_pid="urn:c", agreement_id="urn:agreement:1",
                           format="HttpData-PUSH", data_address=_ADDRESS,
                           callback_address="https://c.example/cb"),
    TransferStartMessage(**_PIDS), TransferStartMessage(**_PIDS, data_address=_ADDRESS),
    TransferSuspensionMessage(**_PIDS, **_CODE), TransferCompletionMessage(**_PIDS),
    TransferTerminationMessage(**_PIDS), TransferError(**_PIDS, **_CODE),
    *[TransferProcess(**_PIDS, state=s) for s in get_args(TransferState)],
    VersionResponse(protocol_versions=[ProtocolVersion(
        version="2025-1", path="/dsp/2025-1", binding="HTTPS", identifier_type="did:web",
        service_id="urn:svc", auth=Auth(protocol="OAuth", version="2", profile=["dpop"]))]),
    DidService(id="did:web:p.example#catalog", type="CatalogService",
               service_endpoint="https://p.example/catalog"),
]


@pytest.mark.parametrize("model", TABLE, ids=lambda m: type(m).__name__)
def test_table_dumps_validate_and_parse_back(model: DspModel) -> None:
    wire = assert_schema_valid(model)
    assert parse_message(wire) == model
    if model.json_ld:
        assert parse_message(jsonld.expand(wire)) == model


def test_table_covers_every_schema() -> None:
    covered = {schema_file(m) for m in TABLE}
    abstract = {"contract-schema.json", "transfer-schema.json", "data-address-schema.json",
                "context-schema.json"}
    assert covered | abstract == set(SCHEMAS)


# Generated messages. Not st.builds: it would also fill the alias names from the signature.
def build(cls: type[DspModel], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


_ids = st.uuids().map(lambda u: f"urn:uuid:{u}")
_urls = st.from_regex(r"https://[a-z]{1,10}\.example(/[a-z0-9]{1,6}){0,2}", fullmatch=True)
_texts = st.text(max_size=8)
_atomic = build(
    AtomicConstraint, left_operand=st.sampled_from(
        ["purpose", "dateTime", "spatial", "count", "https://w3id.org/dodata/policy#orgType"]),
    operator=st.sampled_from(get_args(Operator)),
    right_operand=_texts | st.lists(_texts, min_size=2, max_size=3, unique=True)
    | _ids.map(lambda i: {"@id": i}))
_constraints = st.recursive(_atomic, lambda inner: st.builds(
    lambda op, items: LogicalConstraint.model_validate({op: items}),
    st.sampled_from(["and", "or", "xone", "andSequence"]),
    st.lists(inner, min_size=2, max_size=3)), max_leaves=4)
_actions = st.sampled_from(["use", "read", "odrl:distribute", "http://example.org/act"])
_maybe_constraints = st.none() | st.lists(_constraints, min_size=1, max_size=2)
_duties = st.lists(build(Duty, action=_actions, constraint=_maybe_constraints),
                   min_size=1, max_size=2)
_permissions = st.lists(build(Permission, action=_actions, constraint=_maybe_constraints,
                                  duty=st.none() | _duties), min_size=1, max_size=2)
_prohibitions = st.lists(build(Prohibition, action=_actions, constraint=_maybe_constraints),
                         min_size=1, max_size=2)
_policy = {"id": _ids, "permission": _permissions, "prohibition": st.none() | _prohibitions,
           "obligation": st.none() | _duties, "assigner": st.none() | _ids,
           "profile": st.none() | _urls | st.lists(_urls, min_size=2, max_size=2, unique=True)}
_message_offers = build(MessageOffer, target=_ids, **_policy)
_times = st.datetimes(min_value=datetime(1970, 1, 1),
                      timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
_agreements = build(Agreement, target=_ids, timestamp=_times, **{
    **_policy, "assigner": _ids, "assignee": _ids})
_services = build(DataService, id=_ids, endpoint_url=_urls,
                      endpoint_description=st.none() | _texts)
_distributions = build(Distribution, format=st.sampled_from(["HttpData-PULL", "x:PUSH"]),
                           access_service=_ids | _services)
_datasets = build(Dataset, id=_ids, has_policy=st.lists(build(Offer, **_policy),
                                                             min_size=1, max_size=2),
                      distribution=st.lists(_distributions, min_size=1, max_size=2))
_addresses = build(DataAddress, endpoint_type=_urls, endpoint=st.none() | _urls,
                       endpoint_properties=st.none() | st.lists(build(
                           EndpointProperty, name=_texts, value=_texts), min_size=1, max_size=2))
_pids = {"provider_pid": _ids, "consumer_pid": _ids}
_code = {"code": st.none() | _texts, "reason": st.none() | st.lists(_texts, min_size=1, max_size=2)}
GENERATED = {
    "CatalogRequestMessage": build(CatalogRequestMessage),
    "DatasetRequestMessage": build(DatasetRequestMessage, dataset=_ids),
    "CatalogError": build(CatalogError, **_code),
    "Catalog": build(Catalog, id=_ids, participant_id=_ids,
                         dataset=st.none() | st.lists(_datasets, min_size=1, max_size=2),
                         service=st.none() | st.lists(_services, min_size=1, max_size=2)),
    "Dataset": _datasets,
    "ContractRequestMessage": build(ContractRequestMessage, consumer_pid=_ids,
                                        offer=_message_offers, callback_address=_urls)
    | build(ContractRequestMessage, **_pids, offer=_message_offers),
    "ContractOfferMessage": build(ContractOfferMessage, provider_pid=_ids,
                                      offer=_message_offers, callback_address=_urls)
    | build(ContractOfferMessage, **_pids, offer=_message_offers),
    "ContractAgreementMessage": build(ContractAgreementMessage, **_pids, agreement=_agreements),
    "ContractAgreementVerificationMessage": build(ContractAgreementVerificationMessage, **_pids),
    "ContractNegotiationEventMessage": build(
        ContractNegotiationEventMessage, **_pids, event_type=st.sampled_from(["ACCEPTED",
                                                                             "FINALIZED"])),
    "ContractNegotiationTerminationMessage": build(
        ContractNegotiationTerminationMessage, **_pids, **_code),
    "ContractNegotiation": build(ContractNegotiation, **_pids,
                                     state=st.sampled_from(get_args(NegotiationState))),
    "ContractNegotiationError": build(ContractNegotiationError, **_pids, **_code),
    "TransferRequestMessage": build(
        TransferRequestMessage, consumer_pid=_ids, agreement_id=_ids,
        format=st.sampled_from(["HttpData-PULL", "HttpData-PUSH", "example:HTTP_PUSH"]),
        data_address=st.none() | _addresses, callback_address=_urls),
    "TransferStartMessage": build(TransferStartMessage, **_pids,
                                      data_address=st.none() | _addresses),
    "TransferSuspensionMessage": build(TransferSuspensionMessage, **_pids, **_code),
    "TransferCompletionMessage": build(TransferCompletionMessage, **_pids),
    "TransferTerminationMessage": build(TransferTerminationMessage, **_pids, **_code),
    "TransferProcess": build(TransferProcess, **_pids,
                                 state=st.sampled_from(get_args(TransferState))),
    "TransferError": build(TransferError, **_pids, **_code),
}


@pytest.mark.parametrize("type_name", sorted(GENERATED))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_messages(type_name: str, data: st.DataObject) -> None:
    model = data.draw(GENERATED[type_name])
    wire = assert_schema_valid(model)
    assert jsonld.normalise_incoming(wire) == wire == jsonld.compact(wire)
    assert parse_message(wire) == model
    assert parse_message(jsonld.expand(wire)) == model
