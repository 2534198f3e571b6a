"""Consent receipts: a JWS per give or withdraw, signed with the connector's receipt key.

Anyone can verify one with the receipt keys published at ``/consent/jwks``; the receipt names
the record, the event and a SHA-256 of the record as it stood, so it proves what was agreed.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import rfc8785

from connector.auth.keys import SigningKey

RECEIPT_TYP = "consent-receipt+jwt"


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the record's RFC 8785 canonical JSON."""
    return hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def issue_receipt(key: SigningKey, *, issuer: str, record: dict[str, Any], event: str,
                  at: datetime, actor: str) -> str:
    """A compact JWS receipt for ``event`` on ``record``."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # the database hands back naive UTC
    claims = {"iss": issuer, "sub": record["data_subject"], "iat": int(at.timestamp()),
              "jti": str(uuid.uuid4()), "record_id": record["id"], "event": event,
              "event_time": at.isoformat(), "actor": actor,
              "record_sha256": record_digest(record)}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA",
                      headers={"kid": key.kid, "typ": RECEIPT_TYP})


def verify_receipt(receipt: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of a receipt whose signature verifies with a key of ``jwks``."""
    header = jwt.get_unverified_header(receipt)
    if header.get("typ") != RECEIPT_TYP or header.get("alg") != "EdDSA":
        raise jwt.InvalidTokenError("not a consent receipt")
    for jwk in jwks.get("keys", []):
        if jwk.get("kid") == header.get("kid"):
            key = jwt.PyJWK(jwk).key
            return jwt.decode(receipt, key, algorithms=["EdDSA"],
                              options={"verify_aud": False})
    raise jwt.InvalidTokenError("unknown receipt key")
