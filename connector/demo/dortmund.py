"""The Dortmund demo catalogue: who takes part, which datasets exist, and under which offers.

Pure data, no database and no clock: every date derives from ``end`` (default
``DEFAULT_END``). The readings behind each dataset come from ``connector.demo.readings``.
Coordinates are plausible approximations for the demo, not surveyed positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_SEED = 20261101
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
HOUSEHOLDS = 200

CITY = "did:web:dortmund.example"
UTILITY = "did:web:dew21.example"
ENERGY_ADVICE = "did:web:energieberatung.example"
MOBILITY_LAB = "did:web:mobility-lab.example"
AUDITOR = "did:web:audit.example"

DORTMUND_AREA = "POLYGON((7.30 51.41, 7.64 51.41, 7.64 51.60, 7.30 51.60, 7.30 51.41))"
CSV = "text/csv"


@dataclass(frozen=True)
class DemoParticipant:
    id: str
    name: str
    role: str  # provider | partner | auditor | data_subject
    org_type: str  # public-body | company | research | person
    region: str


@dataclass(frozen=True)
class DemoDataset:
    id: str
    title: str
    description: str
    owner: str
    keywords: tuple[str, ...]
    themes: tuple[str, ...]
    personal_data: bool
    subject_column: str | None
    media_type: str
    file_name: str
    spatial: str  # WKT geometry (DCAT-AP locn:geometry)
    temporal_start: datetime
    temporal_end: datetime
    accrual_periodicity: str  # EU frequency authority code
    offer: dict[str, Any]


@dataclass(frozen=True)
class Sensor:
    slug: str
    street: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Station:
    slug: str
    name: str
    components: tuple[str, ...]
    traffic: float  # how strongly traffic drives the readings (1.0 = kerbside)
    lat: float
    lon: float


@dataclass(frozen=True)
class Garage:
    slug: str
    name: str
    capacity: int


PM_SENSORS: tuple[Sensor, ...] = (
    Sensor("lindenhorst-198", "Lindenhorst 198", 51.5462, 7.4431),
    Sensor("oberer-silberknapp-220", "Oberer Silberknapp 220", 51.4604, 7.4292),
    Sensor("im-karrenberg-44", "Im Karrenberg 44", 51.4702, 7.4168),
    Sensor("langschedestrasse-32", "Langschedestraße 32", 51.5274, 7.5661),
    Sensor("wittener-strasse-155", "Wittener Straße 155", 51.4953, 7.4235),
    Sensor("lindemannstrasse-11", "Lindemannstraße 11", 51.5047, 7.4540),
)

PM_NOX = ("no", "no2", "pm10", "pm25")
AIR_STATIONS: tuple[Station, ...] = (
    Station("brackeler-strasse", "Brackeler Straße", PM_NOX, 0.8, 51.5212, 7.4978),
    Station("eving", "Eving", ("no2",), 0.4, 51.5468, 7.4702),
    Station("ruhrallee", "Ruhrallee", ("no2",), 1.0, 51.5032, 7.4851),
)

GARAGES: tuple[Garage, ...] = (
    Garage("hbf-nord", "Parkhaus Hauptbahnhof Nord", 470),
    Garage("thier-galerie", "Parkhaus Thier-Galerie", 1000),
    Garage("ostwall", "Parkhaus Ostwall", 420),
    Garage("kuhstrasse", "Parkhaus Kuhstraße", 365),
    Garage("stadthaus", "Tiefgarage Stadthaus", 250),
    Garage("hansaplatz", "Tiefgarage Hansaplatz", 310),
)

# The one place that says which policy guards which dataset family.
OFFER_KIND: dict[str, str] = {
    "pm-sensor": "partner-purpose",
    "air-station": "open-eu",
    "parking": "open",
    "construction": "open",
    "ev-lanterns": "open",
    "smart-meter": "consent-advice",
}
PARTNER_PURPOSES = ("research", "urban-planning", "air-quality-monitoring")
SMART_METER_PURPOSE = "energy-saving-advice"
RETENTION = "P30D"
DODATA = "https://w3id.org/dodata/policy#"  # the connector's own ODRL terms (policy/odrl.py)


def _rule(action: str, *constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": action, **extra}
    if constraints:
        rule["constraint"] = list(constraints)
    return rule


def _is(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def make_offer(slug: str, family: str) -> dict[str, Any]:
    """The ODRL Offer (DSP 2025-1 compacted JSON-LD) for dataset ``slug`` of ``family``."""
    kind = OFFER_KIND[family]
    offer: dict[str, Any] = {"@id": f"urn:offer:{slug}:{kind}", "@type": "Offer"}
    if kind == "open":
        offer["permission"] = [_rule("use")]
    elif kind == "open-eu":
        offer["permission"] = [_rule("use", _is("spatial", "isAnyOf", ["EU"]))]
    elif kind == "partner-purpose":
        offer["permission"] = [_rule("use", _is("purpose", "isAnyOf", list(PARTNER_PURPOSES)))]
    elif kind == "consent-advice":
        # Per-household advice needs per-household readings, so no aggregate-only duty here.
        offer["assigner"], offer["assignee"] = UTILITY, ENERGY_ADVICE
        purpose = _is("purpose", "eq", SMART_METER_PURPOSE)
        # A string: DSP's schema allows no JSON boolean as a right operand.
        consent = _is(f"{DODATA}consentRequired", "eq", "true")
        duty = [_rule("delete", _is("elapsedTime", "lteq", RETENTION))]
        offer["permission"] = [_rule("use", purpose, consent, duty=duty)]
    else:  # pragma: no cover - OFFER_KIND only names the kinds above
        raise ValueError(f"unknown offer kind {kind!r}")
    return offer


def subject_id(n: int) -> str:
    return f"urn:subject:hh-{n:04d}"


def participants(*, data_subjects: int = 3) -> list[DemoParticipant]:
    """The organisations of the demo and the first ``data_subjects`` households."""
    orgs = [
        DemoParticipant(CITY, "Stadt Dortmund", "provider", "public-body", "DE-NW"),
        DemoParticipant(UTILITY, "DEW21 Dortmund", "provider", "company", "DE-NW"),
        DemoParticipant(ENERGY_ADVICE, "Energieberatung Ruhr GmbH", "partner", "company", "DE-NW"),
        DemoParticipant(MOBILITY_LAB, "Mobility Lab Dortmund", "partner", "research", "DE"),
        DemoParticipant(AUDITOR, "Unabhängige Prüfstelle Audit", "auditor", "company", "DE"),
    ]
    subjects = [
        DemoParticipant(subject_id(n), f"Haushalt {n:04d}", "data_subject", "person", "DE-NW")
        for n in range(1, data_subjects + 1)
    ]
    return orgs + subjects


def _point(lat: float, lon: float) -> str:
    return f"POINT({lon:.4f} {lat:.4f})"


def datasets(*, end: datetime = DEFAULT_END) -> list[DemoDataset]:
    """Every demo dataset; series cover the ``DAYS`` days before ``end``."""
    start = end - timedelta(days=DAYS)

    def ds(slug: str, family: str, **fields: Any) -> DemoDataset:
        defaults: dict[str, Any] = {
            "personal_data": False,
            "subject_column": None,
            "media_type": CSV,
            "spatial": DORTMUND_AREA,
            "temporal_start": start,
            "temporal_end": end,
            "accrual_periodicity": "http://publications.europa.eu/resource/authority/frequency/HOURLY",
            "themes": ("http://publications.europa.eu/resource/authority/data-theme/ENVI",),
        }
        return DemoDataset(
            id=f"urn:dataset:{slug}",
            file_name=f"{slug}.csv",
            offer=make_offer(slug, family),
            **{**defaults, **fields},
        )

    out = [
        ds(
            f"pm-sensor-{s.slug}",
            "pm-sensor",
            owner=CITY,
            title=f"Feinstaubsensor {s.street}",
            description=(
                f"Hourly PM10, PM2.5, temperature, humidity and pressure from the "
                f"particulate-matter sensor on the lamp post at {s.street}, Dortmund "
                f"(LoRaWAN)."
            ),
            keywords=("Feinstaub", "PM10", "PM2.5", "LoRaWAN", "Luftqualität", s.street),
            spatial=_point(s.lat, s.lon),
        )
        for s in PM_SENSORS
    ]
    out += [
        ds(
            f"air-station-{st.slug}",
            "air-station",
            owner=CITY,
            title=f"Luftmessstation {st.name}",
            description=(
                f"Hourly {', '.join(c.upper() for c in st.components)} concentrations "
                f"from the state air-quality station {st.name}, Dortmund."
            ),
            keywords=("Luftqualität", "Stickstoffdioxid", "Messstation", st.name),
            spatial=_point(st.lat, st.lon),
        )
        for st in AIR_STATIONS
    ]
    mobility = ("http://publications.europa.eu/resource/authority/data-theme/TRAN",)
    out += [
        ds(
            "parking-garages",
            "parking",
            owner=CITY,
            themes=mobility,
            title="Parkhausbelegung Dortmund City",
            description="Free spaces in the city-centre parking garages every 15 minutes.",
            keywords=("Parken", "Parkhaus", "freie Plätze", "Innenstadt"),
            accrual_periodicity="http://publications.europa.eu/resource/authority/frequency/CONT",
        ),
        ds(
            "construction-sites",
            "construction",
            owner=CITY,
            themes=mobility,
            title="Baustellen in Dortmund",
            description="Current and announced construction sites: street, type and duration.",
            keywords=("Baustellen", "Verkehr", "Straßensperrung"),
            temporal_start=end,
            accrual_periodicity="http://publications.europa.eu/resource/authority/frequency/DAILY",
        ),
        ds(
            "ev-charging-lanterns",
            "ev-lanterns",
            owner=CITY,
            themes=(*mobility, "http://publications.europa.eu/resource/authority/data-theme/ENER"),
            title="Laternenladepunkte (geplant)",
            description="Planned EV charging points in street lanterns, by street.",
            keywords=("Elektromobilität", "Ladepunkt", "Laterne", "geplant"),
            temporal_start=end,
            accrual_periodicity="http://publications.europa.eu/resource/authority/frequency/MONTHLY",
        ),
        ds(
            "smart-meter-households",
            "smart-meter",
            owner=UTILITY,
            personal_data=True,
            subject_column="subject",
            themes=("http://publications.europa.eu/resource/authority/data-theme/ENER",),
            title="Smart-Meter-Verbrauch Haushalte (15 Minuten)",
            description=(
                f"15-minute electricity consumption (kWh) of {HOUSEHOLDS} DEW21 "
                f"households. Personal data: shared only with each household's "
                f"consent, for energy-saving advice."
            ),
            keywords=("Smart Meter", "Stromverbrauch", "Lastgang", "personenbezogen"),
            accrual_periodicity="http://publications.europa.eu/resource/authority/frequency/"
            "UPDATE_CONT",
        ),
    ]
    return out
