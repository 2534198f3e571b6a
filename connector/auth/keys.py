"""Signing keys on disk: one Ed25519 key set per purpose, generated at first start (mode 0600).

Layout under the data dir::

    keys/<purpose>/<kid>.pem    PKCS#8 private key, mode 0600 (directory 0700)
    keys/<purpose>/current      the kid that signs now
    keys/<purpose>/<kid>.retired  when a rotation retired that key (Unix seconds)

Older keys stay in the directory after a rotation so that what they signed still verifies;
``published`` lists the current key and those retired less than a retention period ago (for
access tokens: the longest token lifetime plus leeway). The kid is the RFC 7638 thumbprint of
the public JWK.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from connector.auth.dpop import jwk_thumbprint
from connector.errors import ConfigurationError

PURPOSES = ("access-token", "audit", "receipt")
CURRENT = "current"
RETIRED_SUFFIX = ".retired"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK of an Ed25519 public key (RFC 8037)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


@dataclass(frozen=True)
class SigningKey:
    """A private key with its kid and purpose."""

    purpose: str
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        """Public JWK with ``kid``, ``alg`` and ``use`` for a JWKS document."""
        return {**public_jwk(self.public_key), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


class KeyStore:
    """Reads and creates the per-purpose signing keys under ``keys_dir``."""

    def __init__(self, keys_dir: Path, *, may_generate: bool) -> None:
        self.keys_dir = keys_dir
        self.may_generate = may_generate

    def ensure(self) -> list[SigningKey]:
        """Make sure every purpose has a current key; generate missing ones if allowed."""
        return [self.current(purpose) for purpose in PURPOSES]

    def has_current(self, purpose: str) -> bool:
        """Whether ``purpose`` already has a signing key (nothing is generated)."""
        return (self._dir(purpose) / CURRENT).exists()

    def current(self, purpose: str) -> SigningKey:
        """The key that signs for ``purpose`` now."""
        directory = self._dir(purpose)
        pointer = directory / CURRENT
        if not pointer.exists():
            if not self.may_generate:
                raise ConfigurationError(
                    f"no {purpose} signing key in {directory} and generated keys are not allowed "
                    "in production mode (set CONNECTOR_ALLOW_GENERATED_KEYS=true or mount keys)")
            return self.rotate(purpose)
        return self._load(purpose, pointer.read_text(encoding="ascii").strip())

    def all(self, purpose: str) -> list[SigningKey]:
        """Every key ever used for ``purpose`` (current and retired), newest file first."""
        directory = self._dir(purpose)
        if not directory.exists():
            return []
        files = sorted(directory.glob("*.pem"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        return [self._load(purpose, p.stem) for p in files]

    def rotate(self, purpose: str) -> SigningKey:
        """Generate a new key for ``purpose`` and make it current; old keys stay on disk."""
        directory = self._dir(purpose)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.keys_dir, 0o700)
        os.chmod(directory, 0o700)
        previous = self._current_kid(purpose)
        private_key = Ed25519PrivateKey.generate()
        kid = jwk_thumbprint(public_jwk(private_key.public_key()))
        pem = private_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        path = directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        if previous is not None and previous != kid:
            marker = directory / f"{previous}{RETIRED_SUFFIX}"
            marker.write_text(f"{int(time.time())}\n", encoding="ascii")
        tmp = directory / f".{CURRENT}.tmp"
        tmp.write_text(kid + "\n", encoding="ascii")
        os.replace(tmp, directory / CURRENT)
        return SigningKey(purpose, kid, private_key)

    def published(self, purpose: str, *, retention: float,
                  now: float | None = None) -> list[tuple[SigningKey, float | None]]:
        """The keys to publish: the current one and those retired within ``retention`` seconds.

        Each comes with the time until which it stays published (None for the current key).
        A retired key without a marker (rotated before markers existed) counts as retired when
        the current key took over.
        """
        directory = self._dir(purpose)
        current = self._current_kid(purpose)
        if current is None:
            return []
        moment = time.time() if now is None else now
        took_over = (directory / CURRENT).stat().st_mtime
        result: list[tuple[SigningKey, float | None]] = [(self._load(purpose, current), None)]
        for key in self.all(purpose):
            if key.kid == current:
                continue
            until = self._retired_at(purpose, key.kid, default=took_over) + retention
            if until > moment:
                result.append((key, until))
        return result

    def _current_kid(self, purpose: str) -> str | None:
        pointer = self._dir(purpose) / CURRENT
        try:
            return pointer.read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None

    def _retired_at(self, purpose: str, kid: str, *, default: float) -> float:
        marker = self._dir(purpose) / f"{kid}{RETIRED_SUFFIX}"
        try:
            return float(marker.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return default

    def _dir(self, purpose: str) -> Path:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        return self.keys_dir / purpose

    def _load(self, purpose: str, kid: str) -> SigningKey:
        path = self._dir(purpose) / f"{kid}.pem"
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read {purpose} key {path}: {exc}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ConfigurationError(f"{path} is not an Ed25519 private key")
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(f"{path} is readable by others; chmod 600 it")
        return SigningKey(purpose, kid, loaded)
