"""Recognise a DSP message that already is in canonical compacted form, without pyld.

Compacting such a document with the DSP context returns it unchanged, so ``jsonld`` can skip
pyld (milliseconds) for a walk over dicts (microseconds). The check is deliberately narrow: only the
shapes below, with the coercions the DSP context gives each term in each scope, only values whose
compaction cannot differ. Anything else answers ``False`` and takes the pyld path, which is always
right. ``tests/unit/dsp/test_dsp_canonical.py`` checks, on generated documents, that whenever
this says ``True`` pyld produces the same document.

Why each rule:

* ``iri`` (terms with ``"@type": "@id"``, and ``@id``): compaction may turn an IRI under a
  namespace of the context into a compact IRI (``dspace:x``), and a term or ``prefix:`` string
  expands to something else; blank nodes, keyword-like and empty strings are left to pyld.
* ``vocab`` (``"@type": "@vocab"``): the same, except the listed terms, which are in scope there
  and compact back to themselves.
* ``text`` (no coercion): any string stays a plain string.
* ``@set`` terms are always arrays; terms without a container are arrays only with two or more
  items (one item compacts to the bare value), so those are accepted only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from connector.dsp import bundle

Check = Callable[[Any], bool]
Shape = tuple[str | None, Mapping[str, Check]]

NEGOTIATION_STATES = ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED",
                      "TERMINATED")
TRANSFER_STATES = ("REQUESTED", "STARTED", "TERMINATED", "COMPLETED", "SUSPENDED")
OPERATOR_TERMS = ("eq", "gt", "gteq", "lt", "lteq", "neq", "isA", "hasPart", "isPartOf", "isAllOf",
                  "isAnyOf", "isNoneOf")
# Empty, keyword-like, blank node, relative references with dots/slashes, whitespace.
_UNSAFE = re.compile(r"^(?:$|[@_#/?.])|\s")


def _plain_iri(value: str) -> bool:
    if _UNSAFE.search(value) or not value.isprintable():
        return False
    known = bundle.terms()
    prefix, colon, _ = value.partition(":")
    if value in known or (colon and prefix in known):
        return False
    return not value.startswith(bundle.namespaces())


def _iri(value: Any) -> bool:
    return isinstance(value, str) and _plain_iri(value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _nothing(value: Any) -> bool:
    return False


def _vocab(*allowed: str) -> Check:
    terms = frozenset(allowed)
    return lambda value: isinstance(value, str) and (value in terms or _plain_iri(value))


def _set(item: Check) -> Check:
    return lambda value: isinstance(value, list) and all(item(v) for v in value)


def _many(item: Check) -> Check:
    return lambda value: isinstance(value, list) and len(value) >= 2 and all(item(v) for v in value)


def _either(*checks: Check) -> Check:
    return lambda value: any(check(value) for check in checks)


def _node(name: str) -> Check:
    return lambda value: isinstance(value, dict) and _matches(value, SHAPES[name])


_PIDS: dict[str, Check] = {"providerPid": _iri, "consumerPid": _iri}
_CODE_REASON: dict[str, Check] = {"code": _text, "reason": _set(_text)}
_RULE: dict[str, Check] = {"action": _vocab("use"), "constraint": _set(_node("Constraint"))}
_POLICY: dict[str, Check] = {
    "@id": _iri, "profile": _iri, "target": _iri, "assigner": _iri, "assignee": _iri,
    "permission": _set(_node("Permission")), "prohibition": _set(_node("Prohibition")),
    "obligation": _set(_node("Duty")),
}
_NEGOTIATION_OFFER: dict[str, Check] = {**_PIDS, "callbackAddress": _text, "offer": _node("Offer")}

SHAPES: dict[str, Shape] = {
    "CatalogRequestMessage": ("CatalogRequestMessage", {"filter": _set(_nothing)}),
    "DatasetRequestMessage": ("DatasetRequestMessage", {"dataset": _text}),
    "CatalogError": ("CatalogError", _CODE_REASON),
    "Catalog": ("Catalog", {
        "@id": _iri, "participantId": _iri, "service": _set(_node("DataService")),
        "catalog": _set(_node("Catalog")), "dataset": _set(_node("Dataset")),
        "distribution": _set(_node("Distribution"))}),
    "Dataset": ("Dataset", {"@id": _iri, "hasPolicy": _set(_node("Offer")),
                            "distribution": _set(_node("Distribution"))}),
    # No hasPolicy: inside a Catalog (no propagation) the term is undefined there.
    "Distribution": ("Distribution", {"@id": _iri, "format": _vocab("Catalog"),
                                      "accessService": _either(_text, _node("DataService"))}),
    "DataService": ("DataService", {"@id": _iri, "endpointURL": _text,
                                    "endpointDescription": _text}),
    "ContractRequestMessage": ("ContractRequestMessage", _NEGOTIATION_OFFER),
    "ContractOfferMessage": ("ContractOfferMessage", _NEGOTIATION_OFFER),
    "ContractAgreementMessage": ("ContractAgreementMessage",
                                 {**_PIDS, "agreement": _node("Agreement")}),
    "ContractAgreementVerificationMessage": ("ContractAgreementVerificationMessage", _PIDS),
    "ContractNegotiationEventMessage": ("ContractNegotiationEventMessage",
                                        {**_PIDS, "eventType": _vocab("ACCEPTED", "FINALIZED")}),
    "ContractNegotiationTerminationMessage": ("ContractNegotiationTerminationMessage",
                                              {**_PIDS, **_CODE_REASON}),
    "ContractNegotiation": ("ContractNegotiation",
                            {**_PIDS, "state": _vocab(*NEGOTIATION_STATES)}),
    "ContractNegotiationError": ("ContractNegotiationError", {**_PIDS, **_CODE_REASON}),
    "TransferRequestMessage": ("TransferRequestMessage", {
        "consumerPid": _iri, "agreementId": _iri, "format": _vocab(), "callbackAddress": _text,
        "dataAddress": _node("DataAddress")}),
    "TransferStartMessage": ("TransferStartMessage",
                             {**_PIDS, "dataAddress": _node("DataAddress")}),
    "TransferSuspensionMessage": ("TransferSuspensionMessage", {**_PIDS, **_CODE_REASON}),
    "TransferCompletionMessage": ("TransferCompletionMessage", _PIDS),
    "TransferTerminationMessage": ("TransferTerminationMessage", {**_PIDS, **_CODE_REASON}),
    "TransferProcess": ("TransferProcess", {**_PIDS, "state": _vocab(*TRANSFER_STATES)}),
    # The TransferError context gives the pids no @id coercion: they are plain strings there.
    "TransferError": ("TransferError", {"providerPid": _text, "consumerPid": _text,
                                        **_CODE_REASON}),
    "DataAddress": ("DataAddress", {"endpointType": _vocab(), "endpoint": _text,
                                    "endpointProperties": _set(_node("EndpointProperty"))}),
    "EndpointProperty": ("EndpointProperty", {"name": _text, "value": _text}),
    # Policies: reachable only from offer, agreement and hasPolicy, whose scopes import ODRL.
    "Offer": ("Offer", _POLICY),
    "Agreement": ("Agreement", {**_POLICY, "timestamp": _text}),
    "Permission": (None, {**_RULE, "duty": _set(_node("Duty"))}),
    "Prohibition": (None, _RULE),
    "Duty": (None, _RULE),
    "Constraint": (None, {
        "leftOperand": _vocab(), "operator": _vocab(*OPERATOR_TERMS),
        "rightOperand": _either(_text, _many(_text)),
        **{logical: _many(_node("Constraint")) for logical in ("and", "or", "xone", "andSequence")},
    }),
}
ROOTS = frozenset(name for name in SHAPES if SHAPES[name][0] == name) - {
    "Distribution", "DataService", "DataAddress", "EndpointProperty", "Offer", "Agreement"}


def _matches(node: Mapping[str, Any], shape: Shape) -> bool:
    type_name, fields = shape
    for key, value in node.items():
        if key == "@type":
            if value != type_name:
                return False
            continue
        check = fields.get(key)
        if check is None or not check(value):
            return False
    return type_name is None or "@type" in node


def is_canonical(doc: Mapping[str, Any], context_url: str) -> bool:
    """True only if compacting ``doc`` with the DSP context would return it as it is."""
    if doc.get("@context") not in (context_url, [context_url]):
        return False
    type_name = doc.get("@type")
    if not isinstance(type_name, str) or type_name not in ROOTS:
        return False
    try:
        return _matches({k: v for k, v in doc.items() if k != "@context"}, SHAPES[type_name])
    except RecursionError:  # absurdly deep: let pyld (or its own limit) decide
        return False
