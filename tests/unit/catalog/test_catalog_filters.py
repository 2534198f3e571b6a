"""The catalog filter: what is understood, and that everything else is refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from connector.catalog.filters import Filter, Match, parse_filter
from connector.errors import BadRequest

ENVI = "http://publications.europa.eu/resource/authority/data-theme/ENVI"


@pytest.mark.parametrize(("raw", "expected"), [
    (None, Filter()),
    ([], Filter()),
    ([{"dcat:keyword": "PM10"}], Filter((Match(keywords=("pm10",)),))),
    ([{"dcat:keyword": ["Straße", {"@value": "LUFT"}]}],
     Filter((Match(keywords=("strasse", "luft")),))),
    ([{"dcat:theme": {"@id": ENVI}}, {"dcat:theme": [ENVI, "dcat:Foo"]}],
     Filter((Match(themes=(ENVI,)),
             Match(themes=(ENVI, "http://www.w3.org/ns/dcat#Foo"))))),
    ([{"dcat:keyword": "a", "dcat:theme": ENVI}],
     Filter((Match(keywords=("a",), themes=(ENVI,)),))),
])
def test_understood(raw: Any, expected: Filter) -> None:
    assert parse_filter(raw) == expected


@pytest.mark.parametrize(("raw", "says"), [
    (["PM10"], "is not an object"),
    ([{}], "plain 'keyword'"),
    ([{"dct:title": "x"}], "unknown properties ['dct:title']"),
    ([{"dcat:keyword": []}], "1 to 100 values"),
    ([{"dcat:keyword": ["x"] * 101}], "1 to 100 values"),
    ([{"dcat:keyword": ""}], "non-empty string"),
    ([{"dcat:keyword": {"@id": "x"}}], "non-empty string"),
    ([{"dcat:theme": 5}], "must be an IRI"),
])
def test_refused(raw: Any, says: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_filter(raw)
    assert says in info.value.detail and "unsupported catalog filter" in info.value.detail
