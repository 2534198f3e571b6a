"""Consent records as JSON-LD with W3C DPV terms (``dpv:Consent``, ``dpv:ConsentGiven`` …)."""

from __future__ import annotations

from typing import Any

from connector.consent.service import ConsentView, record_json

DPV_CONTEXT = {"dpv": "https://w3id.org/dpv#", "dct": "http://purl.org/dc/terms/",
               "xsd": "http://www.w3.org/2001/XMLSchema#"}
STATUS_TERMS = {"active": "dpv:ConsentGiven", "withdrawn": "dpv:ConsentWithdrawn",
                "expired": "dpv:ConsentExpired", "pending": "dpv:ConsentRequested"}
EVENT_TERMS = {"given": "dpv:ConsentGiven", "renewed": "dpv:RenewedConsentGiven",
               "withdrawn": "dpv:ConsentWithdrawn", "expired": "dpv:ConsentExpired"}


def _ids(values: list[str]) -> list[dict[str, str]]:
    return [{"@id": v} for v in values]


def to_jsonld(item: ConsentView) -> dict[str, Any]:
    """The record, its status and its events as a DPV JSON-LD document."""
    record = record_json(item.record)
    doc: dict[str, Any] = {
        "@context": DPV_CONTEXT, "@id": record["id"], "@type": "dpv:Consent",
        "dct:conformsTo": record["schema_version"],
        "dpv:hasDataSubject": {"@id": record["data_subject"]},
        "dpv:hasDataController": {"@id": record["controller"]},
        "dpv:hasRecipient": _ids(record["recipients"]),
        "dpv:hasPurpose": [{"@type": "dpv:Purpose", "dct:identifier": p}
                           for p in record["purposes"]],
        "dpv:hasPersonalData": [{"@type": "dpv:PersonalData", "dct:identifier": c}
                                for c in record["data_categories"]],
        "dct:source": _ids(record["datasets"]),
        "dpv:hasJurisdiction": record["jurisdiction"],
        "dpv:hasConsentStatus": {"@id": STATUS_TERMS[item.status]},
        "dpv:hasIndicationMethod": record["collection_method"],
        "dpv:hasWithdrawalMethod": record["withdrawal_method"],
        "dct:valid": {"dct:start": {"@value": record["valid_from"], "@type": "xsd:dateTime"}},
        "dpv:hasEvent": [
            {"@type": "dpv:Event", "dpv:hasConsentStatus": {"@id": EVENT_TERMS[e.type]},
             "dct:date": {"@value": e.at.isoformat(), "@type": "xsd:dateTime"},
             "dpv:hasEntity": {"@id": e.actor}} for e in item.events],
    }
    if record["valid_until"]:
        doc["dct:valid"]["dct:end"] = {"@value": record["valid_until"], "@type": "xsd:dateTime"}
    if record["subject_keys"]:
        doc["dpv:hasIdentifier"] = record["subject_keys"]
    return doc
