import csv
import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.demo import dortmund as dm
from connector.demo import readings as rd
from connector.policy.odrl import DODATA_NS, normalise_policy

END = dm.DEFAULT_END
HOURLY = 30 * 24


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, rd.DemoFile]]:
    data_dir = tmp_path_factory.mktemp("data")
    return data_dir, rd.write_dataset_files(data_dir, dm.datasets(), end=END)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _by_id() -> dict[str, dm.DemoDataset]:
    return {ds.id: ds for ds in dm.datasets()}


def test_catalogue_is_deterministic() -> None:
    assert dm.datasets() == dm.datasets()
    assert dm.participants() == dm.participants()


def test_participants() -> None:
    people = {p.id: p for p in dm.participants()}
    assert len(people) == len(dm.participants())
    city, utility = people["did:web:dortmund.example"], people["did:web:dew21.example"]
    assert (city.role, city.org_type, city.region) == ("provider", "public-body", "DE-NW")
    assert (utility.role, utility.org_type, utility.region) == ("provider", "company", "DE-NW")
    assert people[dm.ENERGY_ADVICE].org_type == "company"
    assert (people[dm.MOBILITY_LAB].org_type, people[dm.MOBILITY_LAB].region) == ("research", "DE")
    assert people["did:web:audit.example"].role == "auditor"
    subjects = [p.id for p in people.values() if p.role == "data_subject"]
    assert subjects == ["urn:subject:hh-0001", "urn:subject:hh-0002", "urn:subject:hh-0003"]
    assert len(dm.participants(data_subjects=5)) == 10


def test_dataset_counts_and_ids() -> None:
    ids = [ds.id for ds in dm.datasets()]
    assert len(ids) == len(set(ids)) == 13
    assert sum(i.startswith("urn:dataset:pm-sensor-") for i in ids) == 6
    assert sum(i.startswith("urn:dataset:air-station-") for i in ids) == 3
    assert {
        "urn:dataset:parking-garages",
        "urn:dataset:construction-sites",
        "urn:dataset:ev-charging-lanterns",
        "urn:dataset:smart-meter-households",
    } <= set(ids)
    streets = {s.street for s in dm.PM_SENSORS}
    assert "Langschedestraße 32" in streets and "Lindemannstraße 11" in streets


def test_dataset_fields_complete() -> None:
    for ds in dm.datasets():
        assert ds.title and ds.description and ds.keywords and ds.themes
        assert ds.owner in {dm.CITY, dm.UTILITY}
        assert ds.media_type == "text/csv" and ds.file_name.endswith(".csv")
        assert ds.spatial.startswith(("POINT(", "POLYGON(("))
        assert ds.temporal_start <= ds.temporal_end == END
        assert ds.accrual_periodicity.startswith("http://publications.europa.eu/")
        assert ds.offer["@type"] == "Offer" and ds.offer["@id"].startswith("urn:offer:")
        assert "target" not in ds.offer  # DSP 2025-1: an offer in a catalog names no target


def test_personal_data_flags() -> None:
    personal = [ds for ds in dm.datasets() if ds.personal_data]
    assert [ds.id for ds in personal] == ["urn:dataset:smart-meter-households"]
    assert personal[0].subject_column == "subject" and personal[0].owner == dm.UTILITY
    assert all(ds.subject_column is None for ds in dm.datasets() if not ds.personal_data)


def test_offers() -> None:
    offers = {ds.id: ds.offer for ds in dm.datasets()}
    assert offers["urn:dataset:parking-garages"] == {
        "@id": "urn:offer:parking-garages:open",
        "@type": "Offer",
        "permission": [{"action": "use"}],
    }
    sensor = offers["urn:dataset:pm-sensor-lindenhorst-198"]["permission"][0]
    assert sensor["constraint"][0]["leftOperand"] == "purpose"
    meter = offers["urn:dataset:smart-meter-households"]
    assert (meter["assigner"], meter["assignee"]) == (dm.UTILITY, dm.ENERGY_ADVICE)
    assert dm.DODATA == DODATA_NS


@pytest.mark.parametrize("dataset", dm.datasets(), ids=lambda ds: ds.id)
def test_every_offer_normalises(dataset: dm.DemoDataset) -> None:
    policy = normalise_policy(dataset.offer)
    assert policy["kind"] == "offer" and policy["id"] == dataset.offer["@id"]
    assert policy["target"] is None


def test_normalised_offers_say_what_the_demo_means() -> None:
    policies = {ds.id: normalise_policy(ds.offer) for ds in dm.datasets()}
    meter = policies["urn:dataset:smart-meter-households"]
    assert meter["consent_required"] is True
    assert meter["purposes"] == ["energy-saving-advice"]
    assert meter["assignees"] == [dm.ENERGY_ADVICE] and meter["assigner"] == dm.UTILITY
    assert meter["duties"] == [{"type": "delete_after", "days": 30}]
    sensor = policies["urn:dataset:pm-sensor-lindemannstrasse-11"]
    assert sensor["purposes"] == list(dm.PARTNER_PURPOSES) and not sensor["consent_required"]
    assert policies["urn:dataset:air-station-eving"]["regions"] == ["EU"]
    parking = policies["urn:dataset:parking-garages"]
    assert parking["purposes"] is None and parking["assignees"] is None
    assert parking["regions"] is None and parking["duties"] == []


def test_files_counts(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    data_dir, files = written
    assert set(files) == set(_by_id())
    for ds_id, (path, sha, rows) in files.items():
        assert path == data_dir / "demo" / _by_id()[ds_id].file_name
        content = path.read_bytes()
        assert hashlib.sha256(content).hexdigest() == sha
        assert content.count(b"\n") == rows + 1  # header
        if "pm-sensor" in ds_id or "air-station" in ds_id:
            assert rows == HOURLY
    assert files["urn:dataset:smart-meter-households"].rows == 200 * 2880
    assert files["urn:dataset:parking-garages"].rows == len(dm.GARAGES) * 2880


def test_files_are_deterministic(
    written: tuple[Path, dict[str, rd.DemoFile]], tmp_path: Path
) -> None:
    again = rd.write_dataset_files(tmp_path, dm.datasets(), end=END)
    assert {k: v.sha256 for k, v in again.items()} == {k: v.sha256 for k, v in written[1].items()}
    other = rd.write_dataset_files(tmp_path / "x", dm.datasets()[:1], end=END, seed=7)
    first = dm.datasets()[0].id
    assert other[first].sha256 != again[first].sha256


def test_files_are_idempotent(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    data_dir, files = written
    before = {p.path: p.path.stat().st_mtime_ns for p in files.values()}
    assert rd.write_dataset_files(data_dir, dm.datasets(), end=END) == files
    assert {p.path: p.path.stat().st_mtime_ns for p in files.values()} == before
    assert sorted(p.name for p in (data_dir / "demo").iterdir()) == sorted(
        ds.file_name for ds in dm.datasets()
    )


def test_changed_file_is_rewritten(tmp_path: Path) -> None:
    ds = _by_id()["urn:dataset:construction-sites"]
    target = tmp_path / "demo" / ds.file_name
    target.parent.mkdir()
    target.write_text("stale\n")
    result = rd.write_dataset_files(tmp_path, [ds], end=END)[ds.id]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == result.sha256 and result.rows == 40


def test_pm_sensor_values(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    for sensor in dm.PM_SENSORS:
        rows = _rows(written[1][f"urn:dataset:pm-sensor-{sensor.slug}"].path)
        assert rows[0]["timestamp"] == "2026-10-02T00:00:00Z"
        assert rows[-1]["timestamp"] == "2026-10-31T23:00:00Z"
        pm10 = [float(r["pm10_ugm3"]) for r in rows]
        assert all(0 < v < 100 for v in pm10) and 10 <= sum(pm10) / len(pm10) <= 40
        for r in rows:
            ratio = float(r["pm25_ugm3"]) / float(r["pm10_ugm3"])
            assert 0.55 <= ratio <= 0.75
            assert -10 < float(r["temperature_c"]) < 25
            assert 70 <= float(r["humidity_pct"]) <= 95
            assert 998 <= float(r["pressure_hpa"]) <= 1032
        # traffic: weekday rush hour is dirtier than the small hours
        hours = [r["timestamp"][11:13] for r in rows]
        rush = [v for h, v in zip(hours, pm10, strict=True) if h in ("06", "07")]
        night = [v for h, v in zip(hours, pm10, strict=True) if h in ("01", "02")]
        assert sum(rush) / len(rush) > sum(night) / len(night)


def test_air_station_columns(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    brackel = _rows(written[1]["urn:dataset:air-station-brackeler-strasse"].path)
    assert set(brackel[0]) == {
        "station_id",
        "timestamp",
        "no_ugm3",
        "no2_ugm3",
        "pm10_ugm3",
        "pm25_ugm3",
    }
    for slug in ("eving", "ruhrallee"):
        rows = _rows(written[1][f"urn:dataset:air-station-{slug}"].path)
        assert set(rows[0]) == {"station_id", "timestamp", "no2_ugm3"}
        assert all(0 < float(r["no2_ugm3"]) < 150 for r in rows)


def test_parking_construction_lanterns(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    capacity = {g.slug: g.capacity for g in dm.GARAGES}
    for r in _rows(written[1]["urn:dataset:parking-garages"].path):
        assert 0 <= int(r["free_spaces"]) <= capacity[r["garage_id"]] == int(r["capacity"])
    for r in _rows(written[1]["urn:dataset:construction-sites"].path):
        assert r["start_date"] < r["end_date"] and r["end_date"] > "2026-11-01"
        assert r["type"] in rd.SITE_TYPES
    lanterns = _rows(written[1]["urn:dataset:ev-charging-lanterns"].path)
    assert lanterns and {r["status"] for r in lanterns} == {"planned"}


def test_smart_meter_rows(written: tuple[Path, dict[str, rd.DemoFile]]) -> None:
    rows = _rows(written[1]["urn:dataset:smart-meter-households"].path)
    assert list(rows[0]) == ["meter_id", "subject", "timestamp", "kwh"]
    per_subject = Counter(r["subject"] for r in rows)
    assert set(per_subject) == {f"urn:subject:hh-{n:04d}" for n in range(1, 201)}
    assert set(per_subject.values()) == {2880}
    kwh = [float(r["kwh"]) for r in rows]
    assert 0 < min(kwh) and max(kwh) < 1.0
    assert 0.05 < sum(kwh) / len(kwh) < 0.2  # ~1,750-7,000 kWh a year


def test_end_moves_the_window() -> None:
    ds = _by_id()["urn:dataset:air-station-eving"]
    later = END + timedelta(days=1)
    rows = list(rd.rows_for(ds, end=later))
    assert rows[1][1] == "2026-10-03T00:00:00Z" and len(rows) == HOURLY + 1
    assert dm.datasets(end=later)[0].temporal_end == later


def test_local_time_follows_summer_time() -> None:
    before = datetime(2026, 10, 25, 0, 59, tzinfo=UTC)
    after = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert rd.local_time(before).hour == 2 and rd.local_time(after).hour == 2
    assert rd.local_time(datetime(2026, 1, 1, tzinfo=UTC)).hour == 1


def test_csv_quoting_and_unknown_dataset(tmp_path: Path) -> None:
    out = rd.write_csv(tmp_path / "q.csv", [("a", "b"), ('x,"y"', "z")])
    assert (tmp_path / "q.csv").read_text() == 'a,b\n"x,""y""",z\n' and out.rows == 1
    bogus = dm.datasets()[0].__class__(**{**vars(dm.datasets()[0]), "id": "urn:dataset:nope"})
    with pytest.raises(KeyError):
        rd.rows_for(bogus, end=END)
