"""C2SP signed notes with Ed25519 (https://c2sp.org/signed-note).

::

    <text, ending in a newline>\\n
    \\n
    — <key name> base64(key ID || signature)\\n      (one line per signature; — is U+2014)

Key ID = ``SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]``. Keys travel as text,
compatible with golang.org/x/mod/sumdb/note:

* verifier key: ``<name>+<hex key ID>+base64(0x01 || public key)``
* signer key:   ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || 32-byte seed)``

Signatures from unknown keys are ignored, as the spec requires; a signature from the
known key that fails to verify rejects the whole note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from connector.audit.errors import NoteError, SignatureError

ED25519_SIGNATURE_TYPE = b"\x01"
SIGNATURE_LINE_PREFIX = "\u2014 "  # em dash, space
SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
KEY_ID_SIZE = 4
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


@dataclass(frozen=True)
class NoteVerifier:
    """A known public key: only signatures with this exact name and key ID are checked."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class NoteSigner:
    """A private key with the name its signatures carry."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class NoteSignature:
    """One signature line, not yet verified."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedNote:
    """A note split into its text and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte C2SP key ID of an Ed25519 key under ``name``."""
    _check_name(name)
    data = name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + public_key.public_bytes_raw()
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def format_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """Return the verifier key text ``name+keyid+base64(0x01||pubkey)``."""
    key = ED25519_SIGNATURE_TYPE + public_key.public_bytes_raw()
    return f"{name}+{key_id(name, public_key).hex()}+{_b64encode(key)}"


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Parse a verifier key, checking its key ID matches its name and public key."""
    name, key_id_hex, key = _split_key(vkey, "verifier key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key)
    except ValueError:
        raise NoteError("verifier key holds an invalid Ed25519 public key") from None
    if key_id(name, public_key).hex() != key_id_hex:
        raise NoteError(f"verifier key ID {key_id_hex} does not match its name and public key")
    return NoteVerifier(name=name, key_id=bytes.fromhex(key_id_hex), public_key=public_key)


def format_signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signer key text ``PRIVATE+KEY+name+keyid+base64(0x01||seed)``."""
    kid = key_id(name, private_key.public_key()).hex()
    seed = ED25519_SIGNATURE_TYPE + private_key.private_bytes_raw()
    return f"{SIGNER_KEY_PREFIX}{name}+{kid}+{_b64encode(seed)}"


def parse_signer_key(skey: str) -> NoteSigner:
    """Parse a signer key, checking its key ID matches its name and derived public key."""
    if not skey.startswith(SIGNER_KEY_PREFIX):
        raise NoteError(f"signer key does not start with {SIGNER_KEY_PREFIX!r}")
    name, key_id_hex, seed = _split_key(skey[len(SIGNER_KEY_PREFIX):], "signer key")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    if key_id(name, private_key.public_key()).hex() != key_id_hex:
        raise NoteError(f"signer key ID {key_id_hex} does not match its name and key")
    return NoteSigner(name=name, key_id=bytes.fromhex(key_id_hex), private_key=private_key)


def generate_signer_key(name: str) -> tuple[str, str]:
    """Generate a fresh Ed25519 key for ``name``; return ``(signer key, verifier key)``."""
    private_key = Ed25519PrivateKey.generate()
    return (format_signer_key(name, private_key),
            format_verifier_key(name, private_key.public_key()))


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``text`` signed by ``private_key`` under ``name`` as a signed note."""
    _check_name(name)
    _check_note_chars(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    signature = private_key.sign(text.encode())
    kid = key_id(name, private_key.public_key())
    return f"{text}\n{SIGNATURE_LINE_PREFIX}{name} {_b64encode(kid + signature)}\n"


def parse_note(note: str) -> SignedNote:
    """Split a signed note into its text and signature lines, without verifying any."""
    _check_note_chars(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line separating its text from its signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block:
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return SignedNote(text=text, signatures=tuple(
        _parse_signature_line(number, line) for number, line in enumerate(lines, start=1)))


def verify_note(note: str, verifier: NoteVerifier | str) -> str:
    """Verify ``note`` against the one known key ``verifier``; return the note's text.

    Raises :class:`SignatureError` when no signature carries the key's name and ID, or
    when such a signature does not verify; :class:`NoteError` when the note is malformed.
    """
    known = parse_verifier_key(verifier) if isinstance(verifier, str) else verifier
    signed = parse_note(note)
    label = f"{known.name}+{known.key_id.hex()}"
    found = False
    for sig in signed.signatures:
        if sig.name != known.name or sig.key_id != known.key_id:
            continue  # another key, e.g. a witness cosignature: ignore it
        try:
            known.public_key.verify(sig.signature, signed.text.encode())
        except InvalidSignature:
            raise SignatureError(f"invalid signature for key {label}") from None
        found = True
    if not found:
        raise SignatureError(f"note has no signature from key {label}")
    return signed.text


def _parse_signature_line(number: int, line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise NoteError(f"signature line {number} does not start with an em dash and a space")
    name, _, encoded = line[len(SIGNATURE_LINE_PREFIX):].partition(" ")
    _check_name(name)
    raw = _b64decode(encoded, f"signature line {number}")
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError(f"signature line {number} is too short for a key ID and a signature")
    return NoteSignature(name=name, key_id=raw[:KEY_ID_SIZE], signature=raw[KEY_ID_SIZE:])


def _split_key(text: str, what: str) -> tuple[str, str, bytes]:
    parts = text.split("+", 2)  # base64 may itself contain "+"
    if len(parts) != 3:
        raise NoteError(f"{what} must have the form name+keyid+base64key")
    name, key_id_hex, encoded = parts
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(key_id_hex):
        raise NoteError(f"{what} ID {key_id_hex!r} is not 8 lowercase hex digits")
    key = _b64decode(encoded, what)
    if key[:1] != ED25519_SIGNATURE_TYPE:
        raise NoteError(f"{what} has unsupported signature type {key[:1].hex() or 'none'}")
    if len(key) != 33:
        raise NoteError(f"{what} holds {len(key) - 1} key bytes, expected 32")
    return name, key_id_hex, key[1:]


def _check_name(name: str) -> None:
    if not name:
        raise NoteError("key name must not be empty")
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} must not contain spaces or '+'")
    _check_note_chars(name, "key name")


def _check_note_chars(text: str, what: str) -> None:
    match = _CONTROL.search(text)
    if match:
        raise NoteError(f"{what} contains control character {match.group()!r} "
                        f"at offset {match.start()}")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8 text") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"{what} is not valid base64") from None
    if not data:
        raise NoteError(f"{what} is empty")
    if _b64encode(data) != text:
        raise NoteError(f"{what} is not canonical base64")
    return data
