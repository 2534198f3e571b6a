"""The ``filter`` of a ``CatalogRequestMessage``: keywords and themes, as SQL conditions.

DSP leaves the filter to the implementation (and an unsupported one must get 400). This
connector accepts a list of filter objects, all of which a dataset must match; within one
object every property must match, and a property with several values matches any of them::

    "filter": [{"dcat:keyword": "PM10"},
               {"dcat:theme": [{"@id": "http://publications.europa.eu/resource/authority/data-theme/ENVI"},
                               "http://publications.europa.eu/resource/authority/data-theme/TRAN"]}]

* ``dcat:keyword`` — a string or a list of strings; compared case-insensitively (Unicode case
  folding) with each of the dataset's keywords, whole keyword only.
* ``dcat:theme`` — an IRI (plain string or ``{"@id": IRI}``) or a list of them; exact match
  with one of the dataset's themes.

Full IRIs (``http://www.w3.org/ns/dcat#keyword``) work too: incoming messages are compacted
with the DSP context first. A plain ``keyword`` is not a term of that context and is dropped
by JSON-LD processing, which leaves an empty object: refused, as is anything else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, or_, true
from sqlalchemy.sql.elements import ColumnClause

from connector.catalog.models import Dataset
from connector.errors import BadRequest

KEYWORD, THEME = "dcat:keyword", "dcat:theme"
_PREFIXES = {"dcat:": "http://www.w3.org/ns/dcat#", "dct:": "http://purl.org/dc/terms/"}
MAX_VALUES = 100


@dataclass(frozen=True)
class Match:
    """One filter object: the keywords (folded) and themes a dataset must have one of each."""

    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filter:
    """Every match must hold."""

    matches: tuple[Match, ...] = field(default_factory=tuple)


def _unsupported(detail: str) -> BadRequest:
    return BadRequest(f"unsupported catalog filter: {detail} (supported: a list of objects "
                      "with 'dcat:keyword' and/or 'dcat:theme')")


def _values(raw: Any, what: str) -> list[Any]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > MAX_VALUES:
        raise _unsupported(f"{what} needs 1 to {MAX_VALUES} values")
    return values


def _keyword(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"@value"}:
        value = value["@value"]
    if not isinstance(value, str) or not value:
        raise _unsupported(f"a keyword must be a non-empty string, got {value!r}")
    return value.casefold()


def _theme(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"@id"}:
        value = value["@id"]
    if not isinstance(value, str) or not value:
        raise _unsupported(f"a theme must be an IRI, got {value!r}")
    for prefix, namespace in _PREFIXES.items():
        if value.startswith(prefix):
            return namespace + value[len(prefix):]
    return value


def parse_filter(raw: Sequence[Any] | None) -> Filter:
    """The filter of a (normalised) ``CatalogRequestMessage``; ``BadRequest`` if unsupported."""
    matches: list[Match] = []
    for item in raw or []:
        if not isinstance(item, dict):
            raise _unsupported(f"{item!r} is not an object")
        unknown = sorted(set(item) - {KEYWORD, THEME})
        if unknown:
            raise _unsupported(f"unknown properties {unknown}")
        if not item:
            raise _unsupported("an empty filter object (plain 'keyword' or 'theme' is not a "
                               "DSP term: write 'dcat:keyword', 'dcat:theme')")
        matches.append(Match(
            keywords=tuple(_keyword(v) for v in _values(item[KEYWORD], KEYWORD))
            if KEYWORD in item else (),
            themes=tuple(_theme(v) for v in _values(item[THEME], THEME))
            if THEME in item else ()))
    return Filter(tuple(matches))


def _any_element(column: ColumnClause[Any], values: Sequence[str],
                 dialect: str) -> ColumnElement[bool]:
    """The JSON array ``column`` has an element equal to one of ``values``.

    Searched in the stored JSON text for the JSON string of each value, quotes included: JSON
    escapes any quote inside an element, so the quoted needle matches whole elements only.
    This is a plain substring test per row (no JSON parsing), which is what keeps a filtered
    page over 10,000 datasets fast; ``instr``/``strpos`` are case-sensitive on both databases.
    """
    text_of = cast(column, Text)
    position = func.strpos if dialect == "postgresql" else func.instr
    # Written through SQLAlchemy the text is json.dumps' (ASCII-escaped); a row written by
    # hand may hold the characters themselves: look for both spellings.
    needles = {json.dumps(v, ensure_ascii=ascii) for v in values for ascii in (True, False)}
    return or_(*(position(text_of, needle) > 0 for needle in sorted(needles)))


def conditions(flt: Filter, dialect: str) -> list[ColumnElement[bool]]:
    """SQL conditions on ``dataset`` that hold exactly for the datasets ``flt`` matches."""
    table = Dataset.__table__  # type: ignore[attr-defined]
    out: list[ColumnElement[bool]] = []
    for match in flt.matches:
        if match.keywords:
            out.append(_any_element(table.c.keyword_index, match.keywords, dialect))
        if match.themes:
            out.append(_any_element(table.c.themes, match.themes, dialect))
    return out or [true()]
