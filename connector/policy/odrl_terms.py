"""Reading the JSON-LD of an ODRL policy: terms in canonical form, fields, values, constraints.

Shared by ``policy/odrl.py``. Every helper refuses what it cannot read with ``UnsupportedPolicy``
naming the term, so nothing is silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import UnsupportedPolicy

ODRL_NS = "http://www.w3.org/ns/odrl/2/"
DODATA_NS = "https://w3id.org/dodata/policy#"
LOGICAL = ("and", "or", "xone", "andSequence")
# The largest integer every JSON reader keeps exactly (RFC 8785 canonical JSON refuses more).
MAX_SAFE_INTEGER = 2**53 - 1


def refuse(detail: str, term: str) -> UnsupportedPolicy:
    return UnsupportedPolicy(detail, term=term)


def canonical(raw: str) -> str:
    for prefix in ("odrl:", ODRL_NS):
        if raw.startswith(prefix):
            return raw[len(prefix):]
    if raw.startswith(DODATA_NS):
        return "dodata:" + raw[len(DODATA_NS):]
    return raw


def read_term(raw: Any, what: str) -> str:
    if isinstance(raw, Mapping) and set(raw) == {"@id"}:
        raw = raw["@id"]
    if not isinstance(raw, str) or not raw:
        raise refuse(f"{what} must be a term (a string or {{'@id': ...}})", what)
    return canonical(raw)


def object_fields(obj: Any, allowed: set[str], what: str) -> dict[str, Any]:
    """The object's keys in canonical form; an unknown key is refused by name."""
    if not isinstance(obj, Mapping):
        raise refuse(f"{what} must be a JSON object", what)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = canonical(key)
        if name not in allowed:
            raise refuse(f"{what} has the unsupported property {key!r}", key)
        if name in out:
            raise refuse(f"{what} repeats the property {name!r}", key)
        out[name] = value
    return out


def as_list(raw: Any) -> list[Any]:
    if isinstance(raw, Mapping) and set(raw) in ({"@list"}, {"@set"}):
        raw = next(iter(raw.values()))
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


def scalar(raw: Any, term: str) -> Any:
    if isinstance(raw, Mapping):
        if "@value" in raw and set(raw) <= {"@value", "@type", "@language"}:
            raw = raw["@value"]
        elif set(raw) == {"@id"}:
            raw = raw["@id"]
    if isinstance(raw, Mapping | list) or raw is None:
        raise refuse(f"the right operand of {term!r} is not a plain value", term)
    return raw


def strings(raw: Any, term: str) -> list[str]:
    values = [scalar(item, term) for item in as_list(raw)]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise refuse(f"the right operand of {term!r} must be one or more non-empty strings",
                      term)
    return list(dict.fromkeys(values))


def check_type(fields: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    kind = read_term(fields["@type"], "@type") if "@type" in fields else allowed[0]
    if kind not in allowed:
        raise refuse(f"{what} has the unsupported @type {kind!r}", kind)


def constraint_list(raw: Any) -> list[dict[str, Any]]:
    """Constraints as canonical field dicts, with logical ``and`` flattened."""
    out: list[dict[str, Any]] = []
    for item in as_list(raw):
        fields = object_fields(item, {"@type", "@id", "uid", "leftOperand", "operator",
                                      "rightOperand", *LOGICAL}, "constraint")
        check_type(fields, ("Constraint", "LogicalConstraint"), "constraint")
        logical = [name for name in LOGICAL if name in fields]
        for name in logical:
            if name != "and":
                raise refuse(f"the logical constraint {name!r} is not supported", name)
        if logical:
            if {"leftOperand", "operator", "rightOperand"} & set(fields):
                raise refuse("a logical constraint cannot also be an atomic one", "and")
            out.extend(constraint_list(fields["and"]))
            continue
        for part in ("leftOperand", "operator", "rightOperand"):
            if part not in fields:
                raise refuse(f"a constraint lacks {part!r}", part)
        out.append(fields)
    return out
