"""Signing keys on disk: 0600 per purpose, rotation keeps old keys, production refuses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from connector.auth.dpop import jwk_thumbprint
from connector.auth.keys import PURPOSES, KeyStore, b64url
from connector.errors import ConfigurationError


def test_ensure_generates_one_key_per_purpose_mode_0600(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", may_generate=True)
    keys = store.ensure()
    assert [k.purpose for k in keys] == list(PURPOSES)
    assert len({k.kid for k in keys}) == 3
    for key in keys:
        path = tmp_path / "keys" / key.purpose / f"{key.kid}.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_second_start_reuses_the_keys(tmp_path: Path) -> None:
    first = KeyStore(tmp_path, may_generate=True).ensure()
    second = KeyStore(tmp_path, may_generate=False).ensure()
    assert [k.kid for k in first] == [k.kid for k in second]


def test_kid_is_the_rfc7638_thumbprint_and_signatures_verify(tmp_path: Path) -> None:
    key = KeyStore(tmp_path, may_generate=True).current("audit")
    jwk = key.jwk()
    assert jwk["kid"] == jwk_thumbprint({k: jwk[k] for k in ("kty", "crv", "x")}) == key.kid
    signature = key.private_key.sign(b"message")
    raw = key.public_key.public_bytes_raw()
    assert b64url(raw) == jwk["x"]
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, b"message")


def test_rotation_keeps_the_old_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    old = store.current("access-token")
    new = store.rotate("access-token")
    assert store.current("access-token").kid == new.kid != old.kid
    assert {k.kid for k in store.all("access-token")} == {old.kid, new.kid}


def test_production_without_keys_refuses(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="generated keys are not allowed"):
        KeyStore(tmp_path, may_generate=False).ensure()


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    key = store.current("receipt")
    os.chmod(tmp_path / "receipt" / f"{key.kid}.pem", 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        store.current("receipt")


def test_unknown_purpose_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown key purpose"):
        KeyStore(tmp_path, may_generate=True).current("tls")


def test_rotation_records_when_the_old_key_retired(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    old = store.current("access-token")
    new = store.rotate("access-token")
    marker = tmp_path / "access-token" / f"{old.kid}.retired"
    retired_at = float(marker.read_text())
    published = store.published("access-token", retention=630, now=retired_at + 10)
    assert [(k.kid, until) for k, until in published] == [(new.kid, None),
                                                           (old.kid, retired_at + 630)]
    later = store.published("access-token", retention=630, now=retired_at + 631)
    assert [k.kid for k, _ in later] == [new.kid]
    assert not (tmp_path / "access-token" / f"{new.kid}.retired").exists()


def test_published_without_a_marker_counts_from_the_pointer(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, may_generate=True)
    old = store.current("access-token")
    store.rotate("access-token")
    (tmp_path / "access-token" / f"{old.kid}.retired").unlink()
    took_over = (tmp_path / "access-token" / "current").stat().st_mtime
    assert len(store.published("access-token", retention=60, now=took_over + 59)) == 2
    assert len(store.published("access-token", retention=60, now=took_over + 61)) == 1


def test_published_is_empty_before_the_first_key(tmp_path: Path) -> None:
    assert KeyStore(tmp_path, may_generate=False).published("audit", retention=1) == []
