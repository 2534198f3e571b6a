"""ODRL policies as DSP 2025-1 profiles them (``negotiation/contract-schema.json``).

Three policy shapes share one core (``@id``, ``profile``, rules, ``assigner``/``assignee``; at
least one ``permission`` or ``prohibition``):

* ``Offer`` — in a catalog (``Dataset.hasPolicy``); no ``target``, the dataset is the target.
* ``MessageOffer`` — in ``ContractRequestMessage``/``ContractOfferMessage``; ``@type`` and
  ``target`` required (the spec text requires ``target`` in both messages, the schema only in the
  offer message).
* ``Agreement`` — in ``ContractAgreementMessage``; ``target``, ``assigner``, ``assignee`` and,
  per the spec text, ``timestamp`` (XSD dateTime) required.

Rules never carry ``target`` (DSP forbids it, for ODRL's compact-policy inference). Constraints
are atomic (``leftOperand``/``operator``/``rightOperand``) or logical (exactly one of ``and``,
``andSequence``, ``or``, ``xone``). What the rules *mean* is ``connector.policy.odrl``'s business.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from connector.dsp.base import AsList, DspModel, NonEmpty, forbid, value_kind

Operator = Literal["eq", "gt", "gteq", "lteq", "hasPart", "isA", "isAllOf", "isAnyOf",
                   "isNoneOf", "isPartOf", "lt", "term-lteq", "neq"]
RightOperand = Annotated[
    Annotated[str, Tag("string")] | Annotated[dict[str, Any], Tag("object")]
    | Annotated[list[Any], Tag("array")],
    Discriminator(value_kind, custom_error_type="right_operand",
                  custom_error_message="must be a string, an object or an array"),
]
Profile = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[str], Tag("array")],
    Discriminator(value_kind, custom_error_type="profile",
                  custom_error_message="must be a string or an array of strings"),
]
# XSD dateTime, as the schema's Agreement.timestamp pattern, anchored.
XSD_DATETIME = (
    r"^-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?$"
)
_XSD_DATETIME = re.compile(XSD_DATETIME)
LOGICAL_OPERATORS = ("and", "andSequence", "or", "xone")
_NO_RULE_TARGET = BeforeValidator(forbid(
    "target", "a rule must not have 'target': the policy's target applies (DSP 2025-1)"))
_NO_OFFER_TARGET = forbid(
    "target", "an offer in a catalog must not have 'target': the enclosing dataset is the target")


def _xsd_datetime(value: str) -> str:
    if not _XSD_DATETIME.match(value):
        raise ValueError(f"{value!r} is not an XSD dateTime (e.g. 2025-01-31T12:00:00Z)")
    return value


class AtomicConstraint(DspModel):
    left_operand: str
    operator: Operator
    right_operand: RightOperand


class LogicalConstraint(DspModel):
    and_: Annotated[list[Constraint], AsList] | None = Field(None, alias="and")
    and_sequence: Annotated[list[Constraint], AsList] | None = None
    or_: Annotated[list[Constraint], AsList] | None = Field(None, alias="or")
    xone: Annotated[list[Constraint], AsList] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> LogicalConstraint:
        present = [v for v in (self.and_, self.and_sequence, self.or_, self.xone) if v is not None]
        if len(present) != 1:
            raise ValueError("a logical constraint has exactly one of 'and', 'andSequence', "
                             f"'or', 'xone' (found {len(present)})")
        return self

    @property
    def operator(self) -> str:
        """The wire name of the logical operator in use."""
        for name, value in zip(LOGICAL_OPERATORS, (self.and_, self.and_sequence, self.or_,
                                                   self.xone), strict=True):
            if value is not None:
                return name
        raise AssertionError("validated: one operator is set")  # pragma: no cover

    @property
    def operands(self) -> list[Constraint]:
        """The constraints the operator combines."""
        return next(v for v in (self.and_, self.and_sequence, self.or_, self.xone) if v is not None)


def _constraint_kind(value: Any) -> str:
    if isinstance(value, LogicalConstraint):
        return "logical"
    if isinstance(value, dict) and any(k in value for k in (*LOGICAL_OPERATORS, "and_", "or_",
                                                            "and_sequence")):
        return "logical"
    return "atomic"


Constraint = Annotated[
    Annotated[LogicalConstraint, Tag("logical")] | Annotated[AtomicConstraint, Tag("atomic")],
    Discriminator(_constraint_kind),
]
LogicalConstraint.model_rebuild()


class Duty(DspModel):
    action: str
    constraint: list[Constraint] | None = None


class Prohibition(DspModel):
    action: str
    constraint: list[Constraint] | None = None


class Permission(DspModel):
    action: str
    constraint: list[Constraint] | None = None
    duty: list[Annotated[Duty, _NO_RULE_TARGET]] | None = None


_Permissions = NonEmpty[Annotated[Permission, _NO_RULE_TARGET]]
_Prohibitions = NonEmpty[Annotated[Prohibition, _NO_RULE_TARGET]]
_Obligations = NonEmpty[Annotated[Duty, _NO_RULE_TARGET]]


class PolicyCore(DspModel):
    id: str = Field(alias="@id")
    profile: Profile | None = None
    assigner: str | None = None
    assignee: str | None = None
    permission: _Permissions | None = None
    prohibition: _Prohibitions | None = None
    obligation: _Obligations | None = None

    @model_validator(mode="after")
    def _has_rules(self) -> PolicyCore:
        if self.permission is None and self.prohibition is None:
            raise ValueError("a policy needs a 'permission' or a 'prohibition'")
        return self


class Offer(PolicyCore):
    """An offer inside a catalog: its target is the enclosing dataset."""

    type_: Literal["Offer"] = Field("Offer", alias="@type")

    @model_validator(mode="before")
    @classmethod
    def _no_target(cls, data: Any) -> Any:
        return _NO_OFFER_TARGET(data)


class MessageOffer(PolicyCore):
    """An offer inside a contract request or contract offer message."""

    type_required_on_wire: ClassVar[bool] = True
    type_: Literal["Offer"] = Field("Offer", alias="@type")
    target: str


class Agreement(PolicyCore):
    type_required_on_wire: ClassVar[bool] = True
    type_: Literal["Agreement"] = Field("Agreement", alias="@type")
    target: str
    assigner: str
    assignee: str
    timestamp: Annotated[str, AfterValidator(_xsd_datetime)]
