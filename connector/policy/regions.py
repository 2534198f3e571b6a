"""The region hierarchy spatial constraints are checked against (ISO 3166-1/-2 codes)."""

from __future__ import annotations

_EU_MEMBERS = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
               "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
_DE_STATES = ("BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN",
              "ST", "TH")
# The region hierarchy: code → the region it lies in (ISO 3166-1/-2). "EU" is the root.
REGION_PARENT: dict[str, str] = {
    **{code: "EU" for code in _EU_MEMBERS},
    **{f"DE-{state}": "DE" for state in _DE_STATES},
}
REGIONS = frozenset(REGION_PARENT) | {"EU"}


def region_path(region: str | None) -> list[str]:
    """``region`` and every region it lies in, most specific first (``[]`` for None)."""
    path: list[str] = []
    current = region
    while current is not None and current not in path:
        path.append(current)
        current = REGION_PARENT.get(current)
    return path
