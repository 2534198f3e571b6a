"""``parse_message`` (wire → model) and ``dump_message`` (model → wire) for every DSP document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from connector.dsp.base import WIRE, DspModel
from connector.dsp.bundle import DSP_CONTEXT
from connector.dsp.errors import InvalidMessage
from connector.dsp.jsonld import normalise_with_report
from connector.dsp.messages import catalog, negotiation, transfer
from connector.dsp.messages.common import DID_CONTEXT, DidService, VersionResponse

M = TypeVar("M", bound=DspModel)

MESSAGE_TYPES: dict[str, type[DspModel]] = {
    cls.model_fields["type_"].default: cls
    for module in (catalog, negotiation, transfer)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, DspModel) and "type_" in cls.model_fields
    and cls.__module__ == module.__name__
}
# Nested-only node types: never a document of their own.
for _nested in ("DataService", "Distribution", "DataAddress", "EndpointProperty"):
    MESSAGE_TYPES.pop(_nested)
_TAGS = frozenset({"string", "object", "array", "atomic", "logical"})
_MAX_ERRORS = 3
_MAX_NAMES = 5  # property names quoted back in a reason (they come from the sender)


@overload
def parse_message(doc: Any, expected: type[M]) -> M: ...


@overload
def parse_message(doc: Any, expected: tuple[type[DspModel], ...] | None = None) -> DspModel: ...


def parse_message(doc: Any, expected: type[DspModel] | tuple[type[DspModel], ...] | None = None,
                  ) -> DspModel:
    """Validate an incoming DSP document (compacted or expanded JSON-LD, or plain JSON).

    Raises ``InvalidMessage`` whose ``reason`` says what is wrong: not JSON-LD we accept, a
    ``@type`` not in ``expected``, a missing field, a bad value.
    """
    wanted = expected if isinstance(expected, tuple) else (expected,) if expected else ()
    plain = _plain_json_type(doc, wanted)
    if plain is not None:
        return _validate(plain, doc, plain.__name__, [])
    body, dropped = normalise_with_report(doc)
    del body["@context"]
    type_name = body.get("@type")
    names = " or ".join(cls.__name__ for cls in wanted)
    if type_name is None:
        raise InvalidMessage("missing @type" + (f" (expected {names})" if names else "")
                             + _dropped_note(dropped))
    if not isinstance(type_name, str):
        raise InvalidMessage(f"@type must be a single type, got {type_name!r}")
    cls = MESSAGE_TYPES.get(type_name)
    if cls is None:
        known = names or "a DSP 2025-1 message type"
        raise InvalidMessage(f"unknown @type {type_name!r}: expected {known}")
    if wanted and not issubclass(cls, wanted):
        raise InvalidMessage(f"wrong @type {type_name!r}: expected {names}")
    return _validate(cls, body, type_name, dropped)


def dump_message(model: DspModel) -> dict[str, Any]:
    """The wire form: compacted, ``@context`` first, compact ``@type``, no nulls."""
    _check_root(model, type(model).__name__)
    body = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not model.json_ld:
        return body
    head: dict[str, Any] = {"@context": [DSP_CONTEXT]}
    for key in ("@type", "@id"):
        if key in body:
            head[key] = body.pop(key)
    return head | body


def _plain_json_type(doc: Any, wanted: tuple[type[DspModel], ...]) -> type[DspModel] | None:
    if not isinstance(doc, dict):
        return None
    found: type[DspModel] | None = None
    context = doc.get("@context")
    if context is None and "protocolVersions" in doc:
        found = VersionResponse
    elif isinstance(context, list) and DID_CONTEXT in context:
        found = DidService
    if found is None and len(wanted) == 1 and not wanted[0].json_ld:
        found = wanted[0]
    if found is None or not wanted or issubclass(found, wanted):
        return found
    names = " or ".join(cls.__name__ for cls in wanted)
    raise InvalidMessage(f"wrong document: expected {names}, got a {found.__name__}")


def _validate(cls: type[M], body: Mapping[str, Any], what: str, dropped: list[str]) -> M:
    try:
        model = cls.model_validate(body, context={WIRE: True})
    except RecursionError:
        raise InvalidMessage(f"{what}: the document is nested too deeply") from None
    except ValidationError as error:
        problems = [_describe(e, body) for e in error.errors()]
        more = len(problems) - _MAX_ERRORS
        reason = f"{what}: " + "; ".join(problems[:_MAX_ERRORS])
        reason += f" (and {more} more)" if more > 0 else ""
        raise InvalidMessage(reason + _dropped_note(dropped)) from None
    _check_root(model, what)
    return model


def _check_root(model: DspModel, what: str) -> None:
    for name in model.root_required:
        if getattr(model, name) is None:
            alias = type(model).model_fields[name].alias or name
            raise InvalidMessage(f"{what}: missing required field {alias!r} (top-level {what})")


def _describe(error: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    loc = [part for part in error["loc"] if part not in _TAGS]
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
    where = _path(loc[:-1]) if kind == "missing" else _path(loc)
    prefix = f"{where}: " if where else ""
    if kind == "missing":
        text = f"{prefix}missing required field {loc[-1]!r}"
        unknown = [k for k in _at(body, loc[:-1]) if ":" in k]
        return text + (f" (unrecognised properties there: {_names(unknown)})" if unknown else "")
    if kind in ("literal_error", "string_pattern_mismatch", "string_type", "list_type",
                "too_short", "model_type", "dict_type", "model_attributes_type"):
        return f"{prefix}bad value {_short(error.get('input'))}: {message[:1].lower()}{message[1:]}"
    return f"{prefix}{message}"


def _path(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _at(body: Any, loc: Sequence[Any]) -> Mapping[str, Any]:
    node = body
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, Mapping) else {}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _dropped_note(dropped: list[str]) -> str:
    if not dropped:
        return ""
    unique = list(dict.fromkeys(dropped))
    return f" (ignored, not terms of the DSP 2025-1 context: {_names(unique)})"


def _names(names: list[str]) -> str:
    shown = ", ".join(_short(name) for name in names[:_MAX_NAMES])
    return shown + (f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else "")
