"""Deterministic readings behind the Dortmund demo datasets, written as CSV.

Every dataset draws from its own ``random.Random(f"{seed}:{dataset id}")``, so one file does not
change when another dataset is added. Files are streamed to disk (the smart-meter file has
576,000 rows) and replaced only when their bytes change.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from connector.demo import dortmund as dm

Row = Sequence[str]
Rows = Iterator[Row]


class DemoFile(NamedTuple):
    path: Path
    sha256: str
    rows: int


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month, 31)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def local_time(ts: datetime) -> datetime:
    """Europe/Berlin wall-clock time (EU summer-time rule), without needing tzdata."""
    on = datetime.combine(_last_sunday(ts.year, 3), datetime.min.time(), UTC) + timedelta(hours=1)
    off = datetime.combine(_last_sunday(ts.year, 10), datetime.min.time(), UTC) + timedelta(hours=1)
    return ts + timedelta(hours=2 if on <= ts < off else 1)


def _steps(end: datetime, step: timedelta) -> list[datetime]:
    start = end - timedelta(days=dm.DAYS)
    return [start + i * step for i in range((end - start) // step)]


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour(ts: datetime) -> float:
    local = local_time(ts)
    return local.hour + local.minute / 60


def _traffic(ts: datetime) -> float:
    """Relative traffic, ~0.2 at night, peaks ~1.0 in the weekday rush hours."""
    h, weekend = _hour(ts), local_time(ts).weekday() >= 5
    rush = math.exp(-((h - 8) ** 2) / 2) + math.exp(-((h - 17.5) ** 2) / 3)
    day = 0.25 + 0.5 * math.exp(-((h - 13) ** 2) / 18)
    return (0.6 * day + 0.2 * rush) if weekend else (0.5 * day + 0.7 * rush)


def _walk(rng: random.Random, n: int, keep: float, spread: float) -> list[float]:
    """AR(1) noise with standard deviation ~``spread``: weather that drifts over days."""
    x, out, kick = 0.0, [], spread * math.sqrt(1 - keep * keep)
    for _ in range(n):
        x = keep * x + rng.gauss(0, kick)
        out.append(x)
    return out


def _clip(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def _weather(seed: int, times: list[datetime]) -> list[tuple[float, float, float, float]]:
    """City-wide (temperature °C, humidity %, pressure hPa, pollution episode factor) per hour.

    One stream per seed, shared by every station, so neighbouring sensors see the same weather.
    """
    rng = random.Random(f"{seed}:weather")  # noqa: S311 - demo data, not secrets
    n, t0 = len(times), times[0]
    synoptic, press = _walk(rng, n, 0.97, 2.5), _walk(rng, n, 0.99, 7.0)
    episode = _walk(rng, n, 0.96, 0.3)
    out = []
    for i, ts in enumerate(times):
        days_in = (ts - t0).total_seconds() / 86400
        mean = 11.5 - 5.0 * days_in / dm.DAYS  # October into November cools by ~5 K
        daily = 3.5 * math.cos((_hour(ts) - 15) / 24 * 2 * math.pi)
        temp = mean + daily + synoptic[i]
        hum = _clip(84 - 1.6 * daily - synoptic[i] + rng.gauss(0, 1.5), 70, 95)
        pressure = _clip(1015 + press[i], 1000, 1030)
        out.append((temp, hum, pressure, math.exp(episode[i] - 0.5 * (pressure - 1015) / 30)))
    return out


def pm_sensor_rows(rng: random.Random, sensor: dm.Sensor, end: datetime, seed: int) -> Rows:
    units = ("pm10_ugm3", "pm25_ugm3", "temperature_c", "humidity_pct", "pressure_hpa")
    yield ("sensor_id", "timestamp", *units)
    times = _steps(end, timedelta(hours=1))
    site, warmth = rng.uniform(0.85, 1.15), rng.uniform(-0.6, 0.6)
    for ts, (temp, hum, pressure, episode) in zip(times, _weather(seed, times), strict=True):
        pm10 = _clip((11 + 14 * _traffic(ts)) * site * episode + rng.gauss(0, 1.5), 4, 80)
        pm25 = pm10 * rng.uniform(0.6, 0.7)
        temp += warmth + rng.gauss(0, 0.2)
        hum = _clip(hum + rng.gauss(0, 1.0), 70, 95)
        pressure += rng.gauss(0, 0.3)
        values = (pm10, pm25, temp, hum, pressure)
        yield (sensor.slug, _iso(ts), *(f"{v:.1f}" for v in values))


def air_station_rows(rng: random.Random, station: dm.Station, end: datetime, seed: int) -> Rows:
    yield ("station_id", "timestamp", *(f"{c}_ugm3" for c in station.components))
    times = _steps(end, timedelta(hours=1))
    for ts, (*_, episode) in zip(times, _weather(seed, times), strict=True):
        load = (0.3 + station.traffic * _traffic(ts)) * episode
        values = {
            "no2": _clip(12 + 28 * load + rng.gauss(0, 3), 3, 120),
            "no": _clip(2 + 35 * load**1.8 + rng.gauss(0, 2), 0.5, 200),
            "pm10": _clip(12 + 12 * load + rng.gauss(0, 1.5), 4, 80),
        }
        values["pm25"] = values["pm10"] * rng.uniform(0.6, 0.7)
        yield (station.slug, _iso(ts), *(f"{values[c]:.1f}" for c in station.components))


def parking_rows(rng: random.Random, end: datetime) -> Rows:
    yield ("garage_id", "name", "timestamp", "capacity", "free_spaces")
    times = _steps(end, timedelta(minutes=15))
    for garage in dm.GARAGES:
        pull = rng.uniform(0.55, 0.9)
        for ts, noise in zip(times, _walk(rng, len(times), 0.9, 0.04), strict=True):
            h, weekday = _hour(ts), local_time(ts).weekday()
            shopping = math.exp(-((h - 14.5) ** 2) / 10) * (1.25 if weekday == 5 else 1.0)
            occupied = _clip(
                (0.08 + pull * shopping) * (0.6 if weekday == 6 else 1.0) + noise, 0.0, 1.0
            )
            free = garage.capacity - round(garage.capacity * occupied)
            yield (garage.slug, garage.name, _iso(ts), str(garage.capacity), str(free))


STREETS = (
    ("Rheinlanddamm", "Innenstadt-West"),
    ("Westfalendamm", "Innenstadt-Ost"),
    ("Brackeler Straße", "Brackel"),
    ("Hohe Straße", "Innenstadt-West"),
    ("Evinger Straße", "Eving"),
    ("Mallinckrodtstraße", "Innenstadt-Nord"),
    ("Hörder Bahnhofstraße", "Hörde"),
    ("Wittener Straße", "Lütgendortmund"),
    ("Märkische Straße", "Innenstadt-Ost"),
    ("Kaiserstraße", "Innenstadt-Ost"),
    ("Hannöversche Straße", "Mengede"),
    ("Aplerbecker Straße", "Aplerbeck"),
    ("Lindemannstraße", "Innenstadt-West"),
    ("Schützenstraße", "Innenstadt-Nord"),
    ("Hagener Straße", "Hombruch"),
    ("Asselner Hellweg", "Brackel"),
)
SITE_TYPES = "Kanalbau Fernwärmeleitung Straßenbau Glasfaserausbau Gasleitung Gleisbau".split()
RESTRICTIONS = ("Fahrstreifen gesperrt", "Vollsperrung", "Gehweg gesperrt", "keine")


def construction_rows(rng: random.Random, end: datetime, sites: int = 40) -> Rows:
    yield ("site_id", "street", "district", "type", "start_date", "end_date", "restriction")
    today = end.date()
    for n in range(1, sites + 1):
        street, district = rng.choice(STREETS)
        start = today + timedelta(days=rng.randint(-180, 30))
        # a snapshot lists running and announced sites, so none has finished yet
        finish = max(start, today) + timedelta(days=rng.randint(7, 240))
        address, kind = f"{street} {rng.randint(1, 250)}", rng.choice(SITE_TYPES)
        dates = (start.isoformat(), finish.isoformat())
        yield (f"bs-{n:04d}", address, district, kind, *dates, rng.choice(RESTRICTIONS))


def ev_lantern_rows(rng: random.Random, end: datetime, points: int = 25) -> Rows:
    del end  # a plan, not a series; kept for a uniform signature
    yield ("point_id", "street", "district", "latitude", "longitude", "power_kw", "status")
    for n in range(1, points + 1):
        street, district = rng.choice(STREETS)
        lat, lon = rng.uniform(51.46, 51.56), rng.uniform(7.38, 7.58)
        address, where = f"{street} {rng.randint(1, 250)}", (f"{lat:.5f}", f"{lon:.5f}")
        yield (f"lp-{n:04d}", address, district, *where, rng.choice(("3.7", "11")), "planned")


def smart_meter_rows(rng: random.Random, end: datetime) -> Rows:
    """Every household, every quarter hour; profile shapes are computed once per slot."""
    yield ("meter_id", "subject", "timestamp", "kwh")
    times = _steps(end, timedelta(minutes=15))
    stamps = [_iso(ts) for ts in times]
    shape = []
    for ts in times:
        h, weekend = _hour(ts), local_time(ts).weekday() >= 5
        morning = math.exp(-((h - (8.5 if weekend else 7)) ** 2) / 1.5)
        midday = math.exp(-((h - 12.5) ** 2) / 2) * (0.8 if weekend else 0.3)
        evening = math.exp(-((h - 19) ** 2) / 4)
        shape.append(0.35 * morning + midday * 0.5 + 0.9 * evening)
    for n in range(1, dm.HOUSEHOLDS + 1):
        meter, subject = f"mtr-{n:04d}", dm.subject_id(n)
        base = rng.uniform(0.015, 0.045)  # standby load per quarter hour
        peak = rng.uniform(0.05, 0.25)
        jitter = rng.random
        for stamp, s in zip(stamps, shape, strict=True):
            kwh = base * (0.8 + 0.4 * jitter()) + peak * s * (0.5 + jitter())
            yield (meter, subject, stamp, f"{kwh:.3f}")


def rows_for(dataset: dm.DemoDataset, *, end: datetime, seed: int = dm.DEFAULT_SEED) -> Rows:
    """The CSV rows (header first) of ``dataset``, deterministic for ``seed`` and ``end``."""
    rng = random.Random(f"{seed}:{dataset.id}")  # noqa: S311 - demo data, not secrets
    slug = dataset.id.removeprefix("urn:dataset:")
    for sensor in dm.PM_SENSORS:
        if slug == f"pm-sensor-{sensor.slug}":
            return pm_sensor_rows(rng, sensor, end, seed)
    for station in dm.AIR_STATIONS:
        if slug == f"air-station-{station.slug}":
            return air_station_rows(rng, station, end, seed)
    simple: dict[str, Callable[[random.Random, datetime], Rows]] = {
        "parking-garages": parking_rows,
        "construction-sites": construction_rows,
        "ev-charging-lanterns": ev_lantern_rows,
        "smart-meter-households": smart_meter_rows,
    }
    if slug not in simple:
        raise KeyError(f"no demo readings for {dataset.id}")
    return simple[slug](rng, end)


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _file_sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_csv(path: Path, rows: Iterable[Row]) -> DemoFile:
    """Stream ``rows`` to ``path`` (LF line ends, UTF-8); leave ``path`` alone if unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    digest, count, batch = hashlib.sha256(), -1, []
    with tmp.open("wb") as fh:
        for row in rows:
            line = ",".join(row)
            if line.count(",") != len(row) - 1 or '"' in line or "\n" in line:
                line = ",".join(_csv_field(v) for v in row)
            batch.append(line + "\n")
            count += 1
            if len(batch) >= 8192:
                chunk = "".join(batch).encode()
                digest.update(chunk)
                fh.write(chunk)
                batch.clear()
        chunk = "".join(batch).encode()
        digest.update(chunk)
        fh.write(chunk)
    sha = digest.hexdigest()
    if _file_sha256(path) == sha:
        tmp.unlink()
    else:
        os.replace(tmp, path)
    return DemoFile(path, sha, max(count, 0))


def write_dataset_files(
    data_dir: Path,
    datasets: Iterable[dm.DemoDataset],
    *,
    end: datetime = dm.DEFAULT_END,
    seed: int = dm.DEFAULT_SEED,
) -> dict[str, DemoFile]:
    """Write each dataset's CSV under ``data_dir/demo/``; returns id → (path, sha256, rows)."""
    out_dir = data_dir / "demo"
    return {
        ds.id: write_csv(out_dir / ds.file_name, rows_for(ds, end=end, seed=seed))
        for ds in datasets
    }
