"""The pydantic base of every DSP wire model, and the small types the models share.

Fields have Python names (``consumer_pid``) and the wire names as aliases (``consumerPid``,
``@type``, ``@id``); models validate from either and dump by alias. Models are frozen values.

Extension properties are kept (JSON-LD is open): after normalisation an unknown property is a
compact or absolute IRI (``dct:title``) or a term of the DSP context. Any other unknown key is a
typo and fails, so ``ContractRequestMessage(callback_adress=...)`` does not slip through.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, ClassVar, TypeVar

from annotated_types import MinLen
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from connector.dsp import bundle

# Validation context key: set by ``parse_message`` for documents that came off the wire.
WIRE = "dsp-wire"

T = TypeVar("T")
NonEmpty = Annotated[list[T], MinLen(1)]


def _listify(value: Any) -> Any:
    return value if value is None or isinstance(value, list) else [value]


# Arrays of terms with no @container: compaction turns a one-item array into the bare item.
AsList = BeforeValidator(_listify)


class DspModel(BaseModel):
    """Base of the DSP wire models."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True, extra="allow", frozen=True)

    # The schema requires "@type" here. Code may leave it out (it has a default); the wire may not.
    type_required_on_wire: ClassVar[bool] = False
    # Fields a top-level document must have although nested ones may omit them (Catalog).
    root_required: ClassVar[tuple[str, ...]] = ()
    # False for the two plain-JSON documents (version response, DID service entry).
    json_ld: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        if (cls.type_required_on_wire and "@type" not in data
                and isinstance(info.context, dict) and info.context.get(WIRE)):
            raise PydanticCustomError("missing_type", "missing required field '@type'")
        known, aliased = _keys(cls)
        for name, alias in aliased:
            if name in data and alias in data:
                raise PydanticCustomError("twice", "field '{field}' given twice (as {name})",
                                          {"field": alias, "name": name})
        if cls.json_ld:
            for key in data:
                if key not in known and not _extension_key(key):
                    raise PydanticCustomError("unknown_field", "unknown field '{field}'",
                                              {"field": key})
        return data


@cache
def _keys(cls: type[BaseModel]) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Field names and aliases; the (name, alias) pairs that differ."""
    fields = cls.model_fields
    aliased = tuple((name, f.alias) for name, f in fields.items() if f.alias and f.alias != name)
    return frozenset(fields) | {alias for _, alias in aliased}, aliased


def _extension_key(key: Any) -> bool:
    return isinstance(key, str) and (":" in key or key in bundle.terms() or key == "@id")


def forbid(key: str, why: str) -> Callable[[Any], Any]:
    """A before-validator body rejecting ``key`` with the reason ``why``."""

    def check(data: Any) -> Any:
        if isinstance(data, dict) and key in data:
            raise PydanticCustomError("forbidden_field", "{why}", {"why": why})
        return data

    return check


def value_kind(value: Any) -> str | None:
    """Discriminator by JSON type: 'string', 'object' (dicts and models), 'array' or None."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict | BaseModel):
        return "object"
    if isinstance(value, list):
        return "array"
    return None
