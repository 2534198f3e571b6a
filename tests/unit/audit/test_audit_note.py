"""Tests for connector.audit.note: C2SP signed notes with Ed25519."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.audit.errors import NoteError, SignatureError
from connector.audit.note import (
    MAX_SIGNATURES,
    NoteSignature,
    format_signer_key,
    format_verifier_key,
    generate_signer_key,
    key_id,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    verify_note,
)

# golang.org/x/mod/sumdb/note note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = ("If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n")
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
             "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5o"
             "vTG01oOTGwnWLox33WWd1RvMc+QQ=\n")

# The example of https://c2sp.org/signed-note ("Verifier keys", "Example").
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1Y"
             "Eq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def test_signing_reproduces_the_x_mod_vector() -> None:
    signer = parse_signer_key(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"
    assert sign_note(TEXT, signer.name, signer.private_key) == TEXT + "\n" + PETER_SIG
    assert format_signer_key(signer.name, signer.private_key) == PETER_SKEY
    assert format_verifier_key(signer.name, signer.private_key.public_key()) == PETER_VKEY


def test_verifies_the_c2sp_example() -> None:
    assert verify_note(C2SP_NOTE, C2SP_VKEY) == "This is an example message.\n"
    verifier = parse_verifier_key(C2SP_VKEY)
    assert key_id(verifier.name, verifier.public_key) == bytes.fromhex("530d903a")


def test_unknown_keys_are_ignored() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(note, PETER_VKEY) == TEXT
    assert verify_note(note, ENOCH_VKEY) == TEXT
    assert verify_note(TEXT + "\n" + ENOCH_SIG + PETER_SIG, parse_verifier_key(PETER_VKEY)) == TEXT
    assert [s.name for s in parse_note(note).signatures] == ["PeterNeumann", "EnochRoot"]


def test_no_signature_from_the_known_key() -> None:
    with pytest.raises(SignatureError, match="no signature from key PeterNeumann\\+c74f20a3"):
        verify_note(TEXT + "\n" + ENOCH_SIG, PETER_VKEY)
    # Same name, other key ID (e.g. a rotated key): still not the known key.
    other = PETER_SIG.replace("x08go", "AAAAA")
    with pytest.raises(SignatureError, match="no signature from key"):
        verify_note(TEXT + "\n" + other, PETER_VKEY)


def test_a_bad_signature_from_the_known_key_rejects_the_note() -> None:
    broken = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(SignatureError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        verify_note(TEXT + "\n" + broken + PETER_SIG, PETER_VKEY)
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_note(TEXT.replace("answer", "Answer") + "\n" + PETER_SIG, PETER_VKEY)


@pytest.mark.parametrize(("note", "message"), [
    (TEXT, "no blank line"),
    (TEXT + "\n", "no signature lines"),
    (TEXT + "\n" + PETER_SIG[:-1], "must end with a newline"),
    ("\x01" + TEXT + "\n" + PETER_SIG, "control character '\\\\x01' at offset 0"),
    (TEXT.replace("\n", "\r\n") + "\n" + PETER_SIG, "control character"),
    ("\udcff" + TEXT + "\n" + PETER_SIG, "not valid UTF-8"),
    (TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"), "line 1 is not valid base64"),
    (TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"), "must not contain"),
    (TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "line 2 does not start with an em dash"),
    (TEXT + "\n" + PETER_SIG.replace("\u2014", "-"), "line 1 does not start with an em dash"),
    (TEXT + "\n" + "\u2014 PeterNeumann AAAA\n", "too short"),
    (TEXT + "\n" + "\u2014 PeterNeumann \n", "signature line 1 is empty"),
    (TEXT + "\n" + "\u2014 PeterNeumann x08g!\n", "not valid base64"),
    (TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), "101 signatures, more than 100"),
])
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message) as caught:
        verify_note(note, PETER_VKEY)
    assert not isinstance(caught.value, SignatureError)


def test_at_least_sixteen_signatures_are_accepted() -> None:
    assert verify_note(TEXT + "\n" + ENOCH_SIG * 15 + PETER_SIG, PETER_VKEY) == TEXT


def test_every_mangled_verifier_key_is_rejected() -> None:
    # As x/mod TestNewVerifier: every proper substring and every single-character change.
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(NoteError):
                    parse_verifier_key(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1:]
        with pytest.raises(NoteError):
            parse_verifier_key(mangled)


def test_every_mangled_signer_key_is_rejected() -> None:
    for i in range(len(PETER_SKEY) + 1):
        for j in range(i + 1, len(PETER_SKEY) + 1):
            if (i, j) != (0, len(PETER_SKEY)):
                with pytest.raises(NoteError):
                    parse_signer_key(PETER_SKEY[i:j])
    for i in range(len(PETER_SKEY)):
        mangled = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1:]
        with pytest.raises(NoteError):
            parse_signer_key(mangled)


@pytest.mark.parametrize(("vkey", "message"), [
    # x/mod TestNewVerifier: wrong key length and unknown algorithm, with adjusted key IDs.
    ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
     "not canonical base64"),  # x/mod's decoder ignores the non-zero padding bits
    ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEA==",
     "holds 36 key bytes, expected 32"),
    ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
     "unsupported signature type 65"),
    ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 lowercase hex"),
    ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ("PeterNeumann+c74f20a3", "must have the form"),
    ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "must not be empty"),
])
def test_verifier_key_errors_say_what_is_wrong(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_verifier_key(vkey)


def test_generated_keys_work_together() -> None:
    skey, vkey = generate_signer_key("dodata.example/audit")
    signer = parse_signer_key(skey)
    verifier = parse_verifier_key(vkey)
    assert (signer.name, signer.key_id) == (verifier.name, verifier.key_id)
    note = sign_note("hello\n\nworld\n", signer.name, signer.private_key)
    assert verify_note(note, verifier) == "hello\n\nworld\n"
    assert parse_note(note).signatures[0] == NoteSignature(
        name=signer.name, key_id=signer.key_id, signature=parse_note(note).signatures[0].signature)
    with pytest.raises(SignatureError):
        verify_note(note, PETER_VKEY)


@pytest.mark.parametrize(("text", "name", "message"), [
    ("abc", "log", "must end with a newline"),
    ("a\tb\n", "log", "control character"),
    ("abc\n", "", "must not be empty"),
    ("abc\n", "a b", "must not contain"),
    ("abc\n", "a\u00a0b", "must not contain"),
    ("abc\n", "a+b", "must not contain"),
])
def test_sign_refuses_bad_input(text: str, name: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        sign_note(text, name, Ed25519PrivateKey.generate())


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = format_verifier_key("test.example/log", KEY.public_key())


@settings(max_examples=50)
@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=60))
def test_sign_verify_round_trip(body: str) -> None:
    text = body + "\n"
    assert verify_note(sign_note(text, "test.example/log", KEY), VKEY) == text
