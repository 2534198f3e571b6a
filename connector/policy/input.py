"""The one decision input both engines read: every field present, every time an integer.

``build_input`` is the only way the connector makes an input for ``data.connector.decision``.
It fills a default for every missing field (so Rego never meets an undefined value, which OPA and
the embedded engine treat differently) and turns every time into whole epoch seconds (so Rego
never parses a date, which the embedded engine gets wrong for ``...Z``). Shape::

    {"action": str,                          # "catalog" | "negotiate" | "transfer" (others deny)
     "subject":  {"participant": str | null, "roles": [str], "org_type": str | null,
                  "region": str | null,
                  "region_path": [str]},      # region and what it lies in: ["DE-NW", "DE", "EU"]
     "resource": {"dataset": str | null, "owner": str | null,
                  "personal_data": bool,      # missing means true: consent is then required
                  "data_subject": str | null},  # whose personal data it is
     "policy":   {...} | null,                # normalise_policy's shape, every key present
     "context":  {"now": int, "purpose": str | null,
                  "usage_count": int,         # transfers already made under the agreement
                  "consents": [{"subject": str | null, "recipient": str | null,
                                "purpose": str | null, "dataset": str | null,  # null: any
                                "granted_at": int | null, "expires_at": int | null,
                                "withdrawn_at": int | null}],
                  "approval": {"status": "none" | "pending" | "approved" | "rejected",
                               "participant": str | null, "dataset": str | null}}}

``policy`` may also be given as ODRL (anything with ``permission`` or ``@type``); it is then
normalised here. Times are accepted as aware or naive-UTC ``datetime``, RFC 3339 strings or
numbers. Keys the shape does not name are dropped: they could never influence a decision.
Malformed values (a list where a string belongs) raise ``ValueError``: they are programming
errors, not client errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connector.policy.odrl import epoch_seconds, normalise_policy, region_path
from connector.policy.odrl_terms import MAX_SAFE_INTEGER

APPROVAL_STATUSES = ("none", "pending", "approved", "rejected")
CONSENT_SCOPES = ("rows", "all_subjects")
DUTY_FIELDS = {"aggregate_only": "k", "delete_after": "days", "notify_owner": None}
_LISTS = ("purposes", "assignees", "org_types", "regions")


def to_epoch(value: Any, *, field: str) -> int:
    """Whole epoch seconds (rounded down) from a datetime, RFC 3339 string or number."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: a time, not a boolean")
    if isinstance(value, int | float) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise ValueError(f"{field}: a time in seconds of at most 2^53 - 1")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field}: {value!r} is not an RFC 3339 time") from None
    if isinstance(value, datetime):
        # Naive datetimes are UTC: that is how the database hands them back.
        try:
            return epoch_seconds(value if value.tzinfo else value.replace(tzinfo=UTC))
        except OverflowError:  # e.g. 9999-12-31T23:59:59-00:01 is past year 9999 in UTC
            raise ValueError(f"{field}: {value.isoformat()} is out of range") from None
    raise ValueError(f"{field}: {type(value).__name__} is not a time")


def _opt_time(value: Any, field: str) -> int | None:
    return None if value is None else to_epoch(value, field=field)


def _opt_str(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a string, got {type(value).__name__}")
    return value


def _str_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field}: expected a list of strings")
    return list(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field}: expected true or false")
    return value


def _count(value: Any, field: str, *, minimum: int) -> int:
    if type(value) is not int or not minimum <= value <= MAX_SAFE_INTEGER:
        raise ValueError(f"{field}: expected an integer from {minimum} to 2^53 - 1")
    return value


def normalised_policy(policy: Mapping[str, Any]) -> dict[str, Any]:
    """Check a stored normalised policy and fill its defaults (ODRL is normalised first)."""
    if "permission" in policy or "@type" in policy:
        policy = normalise_policy(policy)
    known = {"id", "kind", "target", "assigner", *_LISTS, "window", "max_count",
             "consent_required", "consent_scope", "approval_required", "duties"}
    unknown = sorted(set(policy) - known)
    if unknown:
        raise ValueError(f"policy: unknown keys {unknown} (neither ODRL nor normalised)")
    out: dict[str, Any] = {
        key: _opt_str(policy.get(key), f"policy.{key}") for key in ("id", "kind", "target",
                                                                      "assigner")}
    for key in _LISTS:
        value = policy.get(key)
        out[key] = None if value is None else _str_list(value, f"policy.{key}")
    window = policy.get("window") or {}
    if not isinstance(window, Mapping):
        raise ValueError("policy.window: expected an object")
    out["window"] = {bound: _opt_time(window.get(bound), f"policy.window.{bound}")
                     for bound in ("not_before", "not_after")}
    limit = policy.get("max_count")
    out["max_count"] = None if limit is None else _count(limit, "policy.max_count", minimum=0)
    for key in ("consent_required", "approval_required"):
        out[key] = _bool(policy.get(key, False), f"policy.{key}")
    # Checked, then left out: the data plane applies these (which subjects are decided for,
    # how rows are aggregated); the rules never read them.
    if policy.get("consent_scope", "rows") not in CONSENT_SCOPES:
        raise ValueError(f"policy.consent_scope: expected one of {', '.join(CONSENT_SCOPES)}")
    out["duties"] = [_duty(d) for d in policy.get("duties") or []]
    return out


def _duty(duty: Any) -> dict[str, Any]:
    if not isinstance(duty, Mapping) or duty.get("type") not in DUTY_FIELDS:
        raise ValueError(f"policy.duties: unsupported duty {duty!r}")
    param = DUTY_FIELDS[duty["type"]]
    if param is None:
        return {"type": duty["type"]}
    _str_list(duty.get("group_by") or [], "duty.group_by")
    return {"type": duty["type"], param: _count(duty.get(param), f"duty.{param}", minimum=0)}


def _consent(record: Any) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise ValueError("context.consents: each consent must be an object")
    out: dict[str, Any] = {key: _opt_str(record.get(key), f"consent.{key}")
                           for key in ("subject", "recipient", "purpose", "dataset")}
    for key in ("granted_at", "expires_at", "withdrawn_at"):
        out[key] = _opt_time(record.get(key), f"consent.{key}")
    return out


def _approval(approval: Any) -> dict[str, Any]:
    if approval is None:
        return {"status": "none", "participant": None, "dataset": None}
    if not isinstance(approval, Mapping):
        raise ValueError("context.approval: expected an object or None")
    status = approval.get("status", "none")
    if status not in APPROVAL_STATUSES:
        raise ValueError(f"context.approval.status: one of {APPROVAL_STATUSES}")
    return {"status": status,
            "participant": _opt_str(approval.get("participant"), "approval.participant"),
            "dataset": _opt_str(approval.get("dataset"), "approval.dataset")}


def build_input(*, action: str, subject: Mapping[str, Any], resource: Mapping[str, Any],
                policy: Mapping[str, Any] | None, context: Mapping[str, Any]) -> dict[str, Any]:
    """The complete decision input for ``data.connector.decision`` (see the module docstring).

    ``policy`` None yields ``"policy": null``, which the policy denies as incomplete input.
    """
    if not isinstance(action, str):
        raise ValueError("action: expected a string")
    region = _opt_str(subject.get("region"), "subject.region")
    now = context.get("now")
    consents = context.get("consents") or []
    if not isinstance(consents, list | tuple):
        raise ValueError("context.consents: expected a list")
    return {
        "action": action,
        "subject": {
            "participant": _opt_str(subject.get("participant"), "subject.participant"),
            "roles": _str_list(subject.get("roles") or [], "subject.roles"),
            "org_type": _opt_str(subject.get("org_type"), "subject.org_type"),
            "region": region,
            "region_path": region_path(region),
        },
        "resource": {
            "dataset": _opt_str(resource.get("dataset"), "resource.dataset"),
            "owner": _opt_str(resource.get("owner"), "resource.owner"),
            "personal_data": _bool(resource.get("personal_data", True), "resource.personal_data"),
            "data_subject": _opt_str(resource.get("data_subject"), "resource.data_subject"),
        },
        "policy": None if policy is None else normalised_policy(policy),
        "context": {
            "now": to_epoch(datetime.now(UTC) if now is None else now, field="context.now"),
            "purpose": _opt_str(context.get("purpose"), "context.purpose"),
            "usage_count": _count(context.get("usage_count", 0), "context.usage_count",
                                  minimum=0),
            "consents": [_consent(c) for c in consents],
            "approval": _approval(context.get("approval")),
        },
    }
