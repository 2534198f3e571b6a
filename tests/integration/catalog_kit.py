"""Helpers for the catalog tests: participants, datasets and offers, schema checks, clients.

Rows are written through the ORM (so ``policy_hash`` and ``keyword_index`` are computed as in
production); documents are checked against the official DSP 2025-1 schemas in
``/work/shared/dsp-2025-1`` (or ``DSP_SHARED_DIR``), resolved locally, nothing fetched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from sqlalchemy.engine import Engine
from sqlmodel import Session

from connector.catalog.models import Dataset, Offer
from connector.participants.models import Participant
from connector.policy.odrl import normalise_policy

SHARED = Path(os.environ.get("DSP_SHARED_DIR")
              or Path(__file__).resolve().parents[2].parent / "shared" / "dsp-2025-1")
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
ENVI = "http://publications.europa.eu/resource/authority/data-theme/ENVI"
TRAN = "http://publications.europa.eu/resource/authority/data-theme/TRAN"
CITY = "did:web:dortmund.example"
UTILITY = "did:web:dew21.example"

#: Requesters by their fixed DSP credential: (participant, org type, region).
REQUESTERS = {
    "Bearer nw-company": ("did:web:nw-company.example", "company", "DE-NW"),
    "Bearer by-research": ("did:web:by-research.example", "research", "DE-BY"),
    "Bearer fr-company": ("did:web:fr-company.example", "company", "FR"),
    "Bearer unknown": ("did:web:stranger.example", None, None),
}
FIXED_IDENTITY = {"dsp_identity": ["fixed"],
                  "dsp_fixed_credentials": {k: v[0] for k, v in REQUESTERS.items()}}


def _schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(SHARED.glob("*/*-schema.json")):
        # The official transfer schemas use "#definitions/X" (no JSON pointer); fixed in memory.
        out[path.name] = json.loads(path.read_text().replace("#definitions/", "#/definitions/"))
    return out


SCHEMAS = _schemas()
REGISTRY: Registry = Registry().with_resources(  # type: ignore[call-arg]
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())


def schema_errors(doc: Any, schema: str) -> list[str]:
    """Violations of ``doc`` against the official schema file ``schema``."""
    validator = Draft201909Validator(SCHEMAS[schema], registry=REGISTRY)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def offer_odrl(offer_id: str, *constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "use"}
    if constraints:
        rule["constraint"] = list(constraints)
    return {"@id": offer_id, "@type": "Offer", "permission": [rule], **extra}


def only(left: str, values: list[str]) -> dict[str, Any]:
    return {"leftOperand": left, "operator": "isAnyOf", "rightOperand": values}


def add_participants(engine: Engine) -> None:
    with Session(engine) as session:
        for participant, org_type, region in REQUESTERS.values():
            if org_type is not None:
                session.add(Participant(id=participant, name=participant, role="partner",
                                        org_type=org_type, region=region))
        session.commit()


def add_dataset(engine: Engine, dataset_id: str, *offers: dict[str, Any],
                owner: str = CITY, keywords: tuple[str, ...] = ("Luftqualität",),
                themes: tuple[str, ...] = (ENVI,), **fields: Any) -> None:
    """A file-backed dataset row with ``offers`` (ODRL), as the demo loader writes them."""
    with Session(engine) as session:
        session.add(Dataset(id=dataset_id, title=f"Dataset {dataset_id}", owner=owner,
                            description="A test dataset.", keywords=list(keywords),
                            themes=list(themes), source="files/x.csv", **fields))
        session.flush()
        for odrl in offers:
            session.add(Offer(id=odrl["@id"], dataset_id=dataset_id, odrl=odrl,
                              normalised=normalise_policy(odrl)))
        session.commit()
