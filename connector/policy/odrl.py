"""ODRL 2.2 offers and agreements (DSP 2025-1 profile) → the normalised ``policy`` of a decision.

``normalise_policy(odrl)`` reads one compacted JSON-LD policy and returns the object that goes
under ``policy`` in the decision input (``policy/input.py``). Everything it does not understand
raises ``UnsupportedPolicy`` with ``term`` naming the offending term; nothing is ignored.

Normalised shape (every key always present)::

    {"id": str | null, "kind": "offer" | "agreement", "target": str | null,
     "assigner": str | null,
     "purposes":   [str, ...] | null,      # null: any purpose
     "window":     {"not_before": int | null, "not_after": int | null},  # epoch s, inclusive
     "max_count":  int | null,             # transfers allowed under one agreement (>= 1)
     "assignees":  [str, ...] | null,      # participant ids; null: anyone
     "org_types":  [str, ...] | null,      # subset of ORG_TYPES; null: any
     "regions":    [str, ...] | null,      # region codes of REGION_PARENT; null: anywhere
     "consent_required":  bool,
     "consent_scope":     "rows" | "all_subjects",  # personal data: filter rows, or all-or-nothing
     "approval_required": bool,
     "duties": [{"type": "aggregate_only", "k": int, "group_by": [str, ...]},
                {"type": "delete_after", "days": int},
                {"type": "notify_owner"}]}   # sorted by type, each type at most once

What is understood (terms plain, ``odrl:``-prefixed or full IRIs; ours under ``dodata:``, i.e.
``https://w3id.org/dodata/policy#``); a left operand appears at most once per policy, except
``dateTime`` which may appear once as a lower and once as an upper bound::

    left operand              operators           right operand
    purpose                   eq, isAnyOf         purpose names
    dateTime                  gt, gteq, lt, lteq  RFC 3339 date-time with offset
    count                     lt, lteq            integer; the result must allow >= 1 use
    recipient                 eq, isAnyOf         participant ids
    spatial                   eq, isAnyOf         region codes (DE-NW, DE, EU, ...; "_:EU" too)
    dodata:orgType            eq, isAnyOf         research, company, public-body
    dodata:consentRequired    eq                  "true" | "false" (or a JSON boolean)
    dodata:consentScope       eq                  "rows" (default) | "allSubjects"
    dodata:approvalRequired   eq                  "true" | "false" (or a JSON boolean)

Boolean right operands: DSP's schema allows only strings, objects and arrays there, so the wire
form is the string ``"true"``/``"false"`` or ``{"@value": "true", "@type": "xsd:boolean"}``.

Duties (in a permission's ``duty`` or the policy's ``obligation``): ``delete`` with
``elapsedTime`` eq/lteq ``P<n>D`` → ``delete_after``; ``inform`` without constraints →
``notify_owner``; ``aggregate`` with ``dodata:minGroupSize`` gteq k (k >= 2) → ``aggregate_only``,
optionally with ``dodata:groupBy`` eq/isAnyOf column names (the aggregates' groups; none: one
group over all rows).

Consent scope: with ``rows`` a personal-data transfer serves the rows of the subjects whose
consent is valid; with ``allSubjects`` it is refused unless every subject the dataset covers
consents.
Exactly one permission, action ``use``; no prohibitions. Logical ``and`` is flattened (it is what
a constraint list means anyway); ``or``, ``xone`` and ``andSequence`` are refused. A policy-level
``assignee`` (targeted offer, or the consumer of an agreement) narrows ``assignees``. Times are
whole seconds: lower bounds round up, upper bounds round down. An ``@context``, if present, must
be the DSP 2025-1 or ODRL context (or only declare the ``odrl:``/``dodata:`` prefixes): another
context could give these terms other meanings.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector.policy.odrl_terms import (
    DODATA_NS,
    MAX_SAFE_INTEGER,
    ODRL_NS,
    as_list,
    check_type,
    constraint_list,
    object_fields,
    read_term,
    refuse,
    scalar,
    strings,
)
from connector.policy.regions import REGION_PARENT, REGIONS, region_path

ORG_TYPES = ("company", "public-body", "research")


_SET_OPERATORS = ("eq", "isAnyOf")
_LOWER = {"gt", "gteq"}
_UPPER = {"lt", "lteq"}
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")
_DAYS = re.compile(r"P(\d{1,5})D")
_BOOLEAN_WORDS = {"true": True, "false": False}
_BOOLEAN_TYPES = ("xsd:boolean", "http://www.w3.org/2001/XMLSchema#boolean")
# Contexts whose terms mean what this module assumes; any other could redefine them.
KNOWN_CONTEXTS = frozenset({"https://w3id.org/dspace/2025/1/context.jsonld",
                            "http://www.w3.org/ns/odrl.jsonld",
                            "https://www.w3.org/ns/odrl.jsonld"})
_PREFIXES = {"odrl": ODRL_NS, "dodata": DODATA_NS}

__all__ = ["DODATA_NS", "ODRL_NS", "REGIONS", "REGION_PARENT", "normalise_policy", "region_path"]


def epoch_seconds(moment: datetime, *, round_up: bool = False) -> int:
    """Whole seconds since 1970 (UTC) for an aware ``moment``, rounded down unless ``round_up``."""
    seconds = calendar.timegm(moment.utctimetuple())
    return seconds + 1 if round_up and moment.microsecond else seconds


def _set_values(op: str, left: str, raw: Any, allowed: tuple[str, ...] | frozenset[str] = ()
                ) -> list[str]:
    if op not in _SET_OPERATORS:
        raise refuse(f"operator {op!r} is not supported for {left!r} (use eq or isAnyOf)", op)
    values = strings(raw, left)
    if op == "eq" and len(values) != 1:
        raise refuse(f"{left!r} with eq takes exactly one value", left)
    for value in values:
        if allowed and value not in allowed:
            raise refuse(f"{value!r} is not a known value of {left!r}", left)
    return values


def _flag(op: str, left: str, raw: Any) -> bool:
    if op != "eq":
        raise refuse(f"operator {op!r} is not supported for {left!r} (use eq)", op)
    if isinstance(raw, Mapping) and "@type" in raw and read_term(
            raw["@type"], "@type") not in _BOOLEAN_TYPES:
        raise refuse(f"the right operand of {left!r} must be an xsd:boolean", left)
    value = scalar(raw, left)
    # DSP's schema allows no JSON boolean as a right operand: "true"/"false" (xsd:boolean's
    # canonical lexical forms) are the wire form; a JSON boolean is still read.
    if isinstance(value, str) and value in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value]
    if not isinstance(value, bool):
        raise refuse(f"the right operand of {left!r} must be \"true\" or \"false\"", left)
    return value


def _instant(op: str, raw: Any) -> tuple[str, int]:
    if op not in _LOWER | _UPPER:
        raise refuse(f"operator {op!r} is not supported for 'dateTime'", op)
    value = scalar(raw, "dateTime")
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise refuse("the right operand of 'dateTime' must be an RFC 3339 date-time with a "
                      "time zone offset", "dateTime")
    try:
        moment = datetime.fromisoformat(value)
        lower, upper = epoch_seconds(moment, round_up=True), epoch_seconds(moment)
    except (ValueError, OverflowError):
        raise refuse(f"{value!r} is not a valid date-time", "dateTime") from None
    if op == "gteq":
        return "not_before", lower
    if op == "gt":
        return "not_before", upper + 1
    if op == "lteq":
        return "not_after", upper
    return "not_after", lower - 1


def _max_count(op: str, raw: Any) -> int:
    if op not in _UPPER:
        raise refuse(f"operator {op!r} is not supported for 'count' (use lteq or lt)", op)
    value = scalar(raw, "count")
    if type(value) is not int or value > MAX_SAFE_INTEGER:
        raise refuse("the right operand of 'count' must be an integer of at most 2^53 - 1",
                     "count")
    limit = value if op == "lteq" else value - 1
    if limit < 1:
        raise refuse("'count' must allow at least one use", "count")
    return limit


_RESULT_KEY = {"purpose": "purposes", "recipient": "assignees", "spatial": "regions",
               "dodata:orgType": "org_types", "count": "max_count",
               "dodata:consentRequired": "consent_required",
               "dodata:approvalRequired": "approval_required",
               "dodata:consentScope": "consent_scope"}
_CONSENT_SCOPES = {"rows": "rows", "allSubjects": "all_subjects"}


def _apply(result: dict[str, Any], seen: set[str], constraint: dict[str, Any]) -> None:
    left = read_term(constraint["leftOperand"], "leftOperand")
    op = read_term(constraint["operator"], "operator")
    raw = constraint["rightOperand"]
    value: Any
    if left == "dateTime":
        bound, value = _instant(op, raw)
        slot = f"dateTime/{bound}"
    elif left in _RESULT_KEY:
        slot = left
        if left == "count":
            value = _max_count(op, raw)
        elif left in ("dodata:consentRequired", "dodata:approvalRequired"):
            value = _flag(op, left, raw)
        elif left == "dodata:consentScope":
            scope = _set_values(op, left, raw, tuple(_CONSENT_SCOPES))
            if len(scope) != 1:
                raise refuse(f"{left!r} takes exactly one value", left)
            value = _CONSENT_SCOPES[scope[0]]
        elif left == "spatial":
            # DSP's own examples write regions as blank-node labels ("_:EU").
            codes = [scalar(item, left) for item in as_list(raw)]
            codes = [c.removeprefix("_:") if isinstance(c, str) else c for c in codes]
            value = _set_values(op, left, codes, REGIONS)
        else:
            value = _set_values(op, left, raw, ORG_TYPES if left == "dodata:orgType" else ())
    else:
        raise refuse(f"left operand {left!r} is not supported", left)
    if slot in seen:
        raise refuse(f"{left!r} is constrained more than once", left)
    seen.add(slot)
    if left == "dateTime":
        result["window"][bound] = value
    else:
        result[_RESULT_KEY[left]] = value


def _duty(raw: Any) -> dict[str, Any]:
    fields = object_fields(raw, {"@type", "@id", "uid", "action", "constraint"}, "duty")
    check_type(fields, ("Duty",), "duty")
    if "action" not in fields:
        raise refuse("a duty lacks 'action'", "action")
    action = read_term(fields["action"], "action")
    constraints = constraint_list(fields.get("constraint"))
    if action == "inform":
        if constraints:
            raise refuse("'inform' takes no constraints", "inform")
        return {"type": "notify_owner"}
    expected = {"delete": ("elapsedTime", ("eq", "lteq")),
                "aggregate": ("dodata:minGroupSize", ("gteq",))}.get(action)
    if expected is None:
        raise refuse(f"duty action {action!r} is not supported", action)
    group_by: list[str] | None = None
    if action == "aggregate":
        rest = []
        for constraint in constraints:
            if read_term(constraint["leftOperand"], "leftOperand") != "dodata:groupBy":
                rest.append(constraint)
            elif group_by is not None:
                raise refuse("'dodata:groupBy' appears more than once", "dodata:groupBy")
            else:
                group_by = _set_values(read_term(constraint["operator"], "operator"),
                                       "dodata:groupBy", constraint["rightOperand"])
        constraints = rest
    if len(constraints) != 1:
        raise refuse(f"{action!r} takes exactly one constraint ({expected[0]})", action)
    left = read_term(constraints[0]["leftOperand"], "leftOperand")
    op = read_term(constraints[0]["operator"], "operator")
    if left != expected[0]:
        raise refuse(f"left operand {left!r} is not supported in a {action!r} duty", left)
    if op not in expected[1]:
        raise refuse(f"operator {op!r} is not supported for {left!r}", op)
    value = scalar(constraints[0]["rightOperand"], left)
    if action == "delete":
        match = _DAYS.fullmatch(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) > MAX_SAFE_INTEGER:
            raise refuse("'elapsedTime' must be a duration in days, e.g. 'P30D'", left)
        return {"type": "delete_after", "days": int(match.group(1))}
    if type(value) is not int or not 2 <= value <= MAX_SAFE_INTEGER:
        raise refuse("'dodata:minGroupSize' must be an integer from 2 to 2^53 - 1", left)
    return {"type": "aggregate_only", "k": value, "group_by": group_by or []}


def _check_context(raw: Any) -> None:
    for item in as_list(raw):
        known = item in KNOWN_CONTEXTS if isinstance(item, str) else (
            isinstance(item, Mapping) and all(_PREFIXES.get(k) == v for k, v in item.items()))
        if not known:
            raise refuse("only the DSP 2025-1 and ODRL contexts (and the odrl:/dodata: "
                          "prefixes) are understood", "@context")


def _one_iri(raw: Any, what: str) -> str:
    values = strings(raw, what)
    if len(values) != 1:
        raise refuse(f"{what!r} must be a single identifier", what)
    return values[0]


def completed(normalised: Mapping[str, Any]) -> dict[str, Any]:
    """A stored normalised policy with the keys added since it was stored, at their defaults
    (``consent_scope``; ``group_by`` of an aggregate duty), so it compares equal to a fresh one."""
    out = {**normalised}
    out.setdefault("consent_scope", "rows")
    out["duties"] = [{**duty, "group_by": duty.get("group_by") or []}
                     if duty.get("type") == "aggregate_only" else dict(duty)
                     for duty in normalised.get("duties") or []]
    return out


def normalise_policy(odrl: Mapping[str, Any]) -> dict[str, Any]:
    """Translate one ODRL ``Offer`` or ``Agreement`` into the normalised decision ``policy``.

    Raises ``UnsupportedPolicy`` (with ``term``) for any term, operator, action or right operand
    this connector cannot enforce exactly.
    """
    fields = object_fields(odrl, {"@context", "@id", "uid", "@type", "target", "profile",
                                  "timestamp", "assigner", "assignee", "permission",
                                  "prohibition", "obligation"}, "policy")
    _check_context(fields.get("@context"))
    kind = read_term(fields["@type"], "@type") if "@type" in fields else None
    if kind not in ("Offer", "Agreement"):
        raise refuse("a policy must be an Offer or an Agreement", kind or "@type")
    if as_list(fields.get("prohibition")):
        raise refuse("prohibitions are not supported", "prohibition")
    permissions = as_list(fields.get("permission"))
    if len(permissions) != 1:
        raise refuse("a policy must have exactly one permission", "permission")
    rule = object_fields(permissions[0], {"@type", "@id", "uid", "action", "constraint", "duty",
                                    "target"}, "permission")
    check_type(rule, ("Permission",), "permission")
    action = read_term(rule.get("action"), "action")
    if action != "use":
        raise refuse(f"permission action {action!r} is not supported (use 'use')", action)
    targets = {_one_iri(t, "target") for t in (fields.get("target"), rule.get("target")) if t}
    if len(targets) > 1:
        raise refuse("the permission's target differs from the policy's", "target")
    ident = fields.get("@id", fields.get("uid"))
    result: dict[str, Any] = {
        "id": _one_iri(ident, "@id") if ident is not None else None,
        "kind": kind.lower(), "target": next(iter(targets), None),
        "assigner": _one_iri(fields["assigner"], "assigner") if "assigner" in fields else None,
        "purposes": None, "window": {"not_before": None, "not_after": None}, "max_count": None,
        "assignees": None, "org_types": None, "regions": None,
        "consent_required": False, "consent_scope": "rows", "approval_required": False,
        "duties": [],
    }
    seen: set[str] = set()
    for constraint in constraint_list(rule.get("constraint")):
        _apply(result, seen, constraint)
    window = result["window"]
    if None not in window.values() and window["not_before"] > window["not_after"]:
        raise refuse("the 'dateTime' constraints leave an empty usage window", "dateTime")
    if "assignee" in fields:
        named = strings(fields["assignee"], "assignee")
        allowed = result["assignees"]
        result["assignees"] = named if allowed is None else [p for p in allowed if p in named]
        if not result["assignees"]:
            raise refuse("the policy's assignee is not among the allowed recipients",
                          "recipient")
    duties: dict[str, dict[str, Any]] = {}
    for raw in [*as_list(rule.get("duty")), *as_list(fields.get("obligation"))]:
        duty = _duty(raw)
        if duty["type"] in duties:
            raise refuse(f"the duty {duty['type']!r} appears more than once", duty["type"])
        duties[duty["type"]] = duty
    result["duties"] = [duties[name] for name in sorted(duties)]
    return result
