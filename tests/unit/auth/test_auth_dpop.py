"""RFC 9449 DPoP proofs and RFC 7638 thumbprints: vectors, positive cases and attacks.

Proofs are built by hand with ``cryptography`` (real Ed25519 / P-256 keys, real signatures).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from connector.auth.dpop import (
    DpopResult,
    InMemoryReplayCache,
    jwk_thumbprint,
    normalize_htu,
    validate_dpop_proof,
)
from connector.auth.errors import InvalidDpopProof, ReplayCacheFull
from connector.auth.tokens import issue_access_token, validate_access_token
from connector.errors import InvalidToken

NOW = 1_790_000_000
HTM = "GET"
HTU = "https://connector.dodata.example/api/datasets/air-quality"
ACCESS_TOKEN = "eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl"

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token: str) -> str:
    return b64(hashlib.sha256(token.encode()).digest())


@dataclass(frozen=True)
class ProofKey:
    alg: str
    jwk: dict[str, str]
    sign: Signer


def ed_key() -> ProofKey:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return ProofKey("EdDSA", {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}, key.sign)


def es_key(curve: ec.EllipticCurve | None = None, crv: str = "P-256") -> ProofKey:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    size = (key.curve.key_size + 7) // 8
    numbers = key.public_key().public_numbers()

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    jwk = {"kty": "EC", "crv": crv, "x": b64(numbers.x.to_bytes(size, "big")),
           "y": b64(numbers.y.to_bytes(size, "big"))}
    return ProofKey("ES256", jwk, sign)


def compact(header: dict[str, Any], claims: dict[str, Any] | bytes, sign: Signer) -> str:
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


@dataclass
class World:
    ed: ProofKey
    es: ProofKey
    other: ProofKey
    cache: InMemoryReplayCache
    counter: int = 0

    def proof(self, key: ProofKey | None = None, *, header: dict[str, Any] | None = None,
              claims: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
              drop_header: tuple[str, ...] = (), sign: Signer | None = None) -> str:
        key = key or self.ed
        self.counter += 1
        h: dict[str, Any] = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.jwk, **(header or {})}
        c: dict[str, Any] = {"jti": f"proof-{self.counter}", "htm": HTM, "htu": HTU, "iat": NOW,
                             "ath": ath(ACCESS_TOKEN), **(claims or {})}
        for name in drop_header:
            del h[name]
        for name in drop:
            del c[name]
        return compact(h, c, sign or key.sign)

    def validate(self, proof: str, **kwargs: Any) -> DpopResult:
        arguments: dict[str, Any] = {"htm": HTM, "htu": HTU, "now": NOW, "replay": self.cache,
                                     "access_token": ACCESS_TOKEN, **kwargs}
        return validate_dpop_proof(proof, **arguments)


@pytest.fixture
def world() -> World:
    return World(ed_key(), es_key(), ed_key(), InMemoryReplayCache(clock=lambda: NOW))


def replayed(w: World) -> tuple[str, dict[str, Any]]:
    proof = w.proof()
    w.validate(proof)
    return proof, {}


Case = Callable[[World], tuple[str, dict[str, Any]]]
ATTACKS: list[Any] = [
    pytest.param(replayed, "replay", id="replayed-jti"),
    pytest.param(lambda w: (w.proof(claims={"htm": "POST"}), {}), "htm", id="wrong-htm"),
    pytest.param(lambda w: (w.proof(claims={"htm": "get"}), {}), "htm", id="htm-lowercase"),
    pytest.param(lambda w: (w.proof(claims={"htu": HTU + "/secret"}), {}), "htu",
                 id="wrong-htu-path"),
    pytest.param(lambda w: (w.proof(claims={"htu": HTU.replace("connector", "evil")}), {}),
                 "htu", id="wrong-htu-host"),
    pytest.param(lambda w: (w.proof(claims={"htu": HTU.replace("https", "http")}), {}), "htu",
                 id="wrong-htu-scheme"),
    pytest.param(lambda w: (w.proof(claims={"htu": HTU.replace(".example", ".example:8443")}),
                            {}), "htu", id="wrong-htu-port"),
    pytest.param(lambda w: (w.proof(claims={"htu": "not a uri"}), {}), "htu", id="htu-not-uri"),
    pytest.param(lambda w: (w.proof(claims={"htu": 42}), {}), "htu", id="htu-not-string"),
    pytest.param(lambda w: (w.proof(claims={"iat": NOW - 66}), {}), "too old", id="stale-iat"),
    pytest.param(lambda w: (w.proof(claims={"iat": NOW + 6}), {}), "future", id="future-iat"),
    pytest.param(lambda w: (w.proof(claims={"iat": str(NOW)}), {}), "iat", id="iat-string"),
    pytest.param(lambda w: (w.proof(claims={"ath": ath("another-token")}), {}), "ath",
                 id="wrong-ath"),
    pytest.param(lambda w: (w.proof(drop=("ath",)), {}), "ath", id="missing-ath"),
    pytest.param(lambda w: (w.proof(), {"expected_jkt": jwk_thumbprint(w.other.jwk)}), r"cnf\.jkt",
                 id="key-not-matching-cnf-jkt"),
    pytest.param(lambda w: (w.proof(header={"typ": "JWT"}), {}), "typ", id="typ-JWT"),
    pytest.param(lambda w: (w.proof(drop_header=("typ",)), {}), "typ", id="typ-missing"),
    pytest.param(lambda w: (w.proof(header={"typ": "at+jwt"}), {}), "typ",
                 id="typ-access-token-as-proof"),
    pytest.param(lambda w: (w.proof(header={"alg": "none"}, sign=lambda d: b""), {}), "alg",
                 id="alg-none"),
    pytest.param(lambda w: (w.proof(header={"alg": "HS256"}, sign=lambda d: hmac.new(
        w.ed.jwk["x"].encode(), d, hashlib.sha256).digest()), {}), "alg", id="alg-HS256"),
    pytest.param(lambda w: (w.proof(header={"alg": "RS256"}), {}), "alg", id="alg-not-pinned"),
    pytest.param(lambda w: (w.proof(header={"jwk": {**w.ed.jwk, "d": w.ed.jwk["x"]}}), {}),
                 "private key", id="private-key-in-jwk"),
    pytest.param(lambda w: (w.proof(drop_header=("jwk",)), {}), "no jwk", id="missing-jwk"),
    pytest.param(lambda w: (w.proof(header={"jwk": "ed-1"}), {}), "jwk", id="jwk-not-object"),
    pytest.param(lambda w: (w.proof(header={"jwk": w.es.jwk}), {}), "fit",
                 id="ec-jwk-with-eddsa-alg"),
    pytest.param(lambda w: (w.proof(es_key(ec.SECP384R1(), "P-384")), {}), "fit",
                 id="p384-jwk-with-es256-alg"),
    pytest.param(lambda w: (w.proof(header={"jwk": {**w.ed.jwk, "x": "AAAA"}}), {}),
                 "valid public key", id="jwk-bad-point"),
    pytest.param(lambda w: (w.proof(sign=w.other.sign), {}), "signature",
                 id="signed-by-other-key"),
    pytest.param(lambda w: (w.proof(header={"jku": "https://evil.example/jwks"}), {}), "jku",
                 id="jku-header"),
    *[pytest.param(lambda w, name=name: (w.proof(drop=(name,)), {}), f"lacks the {name}",
                   id=f"missing-{name}") for name in ("jti", "htm", "htu", "iat")],
    pytest.param(lambda w: (w.proof(claims={"jti": "j" * 257}), {}), "jti", id="jti-too-long"),
    pytest.param(lambda w: (w.proof(claims={"jti": 7}), {}), "jti", id="jti-not-string"),
    pytest.param(lambda w: (f"{w.proof()}, {w.proof()}", {}), "exactly one", id="two-proofs"),
    pytest.param(lambda w: (w.proof().rsplit(".", 1)[0], {}), "three segments",
                 id="two-segments"),
    pytest.param(lambda w: (compact({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": w.ed.jwk},
                                    b'{"jti":"a","jti":"b","htm":"GET"}', w.ed.sign), {}),
                 "unique members", id="duplicate-claim"),
]


@pytest.mark.parametrize(("case", "message"), ATTACKS)
def test_attack_is_rejected(world: World, case: Case, message: str) -> None:
    proof, kwargs = case(world)
    with pytest.raises(InvalidDpopProof, match=message) as caught:
        world.validate(proof, **kwargs)
    error = caught.value
    assert isinstance(error, InvalidToken) and error.status == 401
    assert error.error == "invalid_dpop_proof" and error.code == "invalid-dpop-proof"
    assert proof not in str(error)


def test_attack_suite_is_large_enough() -> None:
    assert len(ATTACKS) >= 25


def test_failed_proof_does_not_burn_its_jti(world: World) -> None:
    proof = world.proof()
    with pytest.raises(InvalidDpopProof, match="htm"):
        world.validate(proof, htm="POST")
    assert world.validate(proof).jkt == jwk_thumbprint(world.ed.jwk)


@pytest.mark.parametrize("which", ["ed", "es"])
def test_valid_proof(world: World, which: str) -> None:
    key: ProofKey = getattr(world, which)
    proof = world.proof(key, claims={"jti": "unique-1"})
    result = world.validate(proof, expected_jkt=jwk_thumbprint(key.jwk))
    assert result == DpopResult(jkt=jwk_thumbprint(key.jwk), jti="unique-1",
                                claims=json.loads(base64.urlsafe_b64decode(
                                    proof.split(".")[1] + "==")))


def test_proof_without_access_token_needs_no_ath(world: World) -> None:
    result = world.validate(world.proof(drop=("ath",)), access_token=None)
    assert "ath" not in result.claims


@pytest.mark.parametrize("iat", [NOW - 65, NOW + 5])
def test_iat_window_edges_accepted(world: World, iat: int) -> None:
    assert world.validate(world.proof(claims={"iat": iat})).claims["iat"] == iat


@pytest.mark.parametrize(("proof_htu", "request_htu"), [
    ("HTTPS://Connector.DoData.EXAMPLE:443/api/datasets/air-quality", HTU),
    (HTU, HTU + "?page=2#top"),
    (HTU + "?q=1", HTU),
    ("https://connector.dodata.example/api/./datasets/x/../air-quality", HTU),
    ("https://connector.dodata.example/api/datasets/air%2Dquality", HTU),
])
def test_htu_matches_after_normalisation(world: World, proof_htu: str, request_htu: str) -> None:
    assert world.validate(world.proof(claims={"htu": proof_htu}), htu=request_htu)


def test_bound_token_end_to_end(world: World) -> None:
    """Issue a cnf-bound access token, validate it, then validate its DPoP proof against it."""
    signing_key = ed25519.Ed25519PrivateKey.generate()

    class Resolver:
        def resolve(self, kid: str | None, iss: str) -> ed25519.Ed25519PublicKey:
            return signing_key.public_key()

    token, _ = issue_access_token(
        private_key=signing_key, kid="at-1", alg="EdDSA", issuer="https://as.example",
        audience="https://rs.example", subject="s", client_id="c", scope="transfer",
        participant="did:web:partner.example", cnf_jkt=jwk_thumbprint(world.es.jwk), now=NOW)
    claims = validate_access_token(token, keys=Resolver(), issuer="https://as.example",
                                   audience="https://rs.example", now=NOW)
    proof = world.proof(world.es, claims={"ath": ath(token)})
    result = world.validate(proof, access_token=token, expected_jkt=claims["cnf"]["jkt"])
    assert result.jkt == claims["cnf"]["jkt"]
    with pytest.raises(InvalidDpopProof, match=r"cnf\.jkt"):
        world.validate(world.proof(claims={"ath": ath(token)}), access_token=token,
                       expected_jkt=claims["cnf"]["jkt"])


@pytest.mark.parametrize("kwargs", [
    {"allowed_algs": ("HS256",)}, {"allowed_algs": ("none",)}, {"allowed_algs": ()},
    {"max_age": 0}, {"leeway": -1},
], ids=str)
def test_unsafe_configuration_is_a_value_error(world: World, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        world.validate(world.proof(), **kwargs)


# RFC 7638 thumbprints


def test_thumbprint_rfc7638_section_3_1_vector() -> None:
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
            "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
            "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
            "Cur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_rfc8037_ed25519_vector() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_thumbprint_p256_computed_independently(world: World) -> None:
    jwk = world.es.jwk
    text = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    expected = b64(hashlib.sha256(text.encode()).digest())
    shuffled = {"y": jwk["y"], "use": "sig", "x": jwk["x"], "kty": "EC", "crv": "P-256"}
    assert jwk_thumbprint(jwk) == jwk_thumbprint(shuffled) == expected


def test_thumbprint_ed25519_computed_independently(world: World) -> None:
    text = f'{{"crv":"Ed25519","kty":"OKP","x":"{world.ed.jwk["x"]}"}}'
    assert jwk_thumbprint(world.ed.jwk) == b64(hashlib.sha256(text.encode()).digest())


@pytest.mark.parametrize("jwk", [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256"},
                                 {"kty": "OKP", "crv": "Ed25519", "x": 1}, {}], ids=str)
def test_thumbprint_refuses_incomplete_or_symmetric_keys(jwk: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        jwk_thumbprint(jwk)


# htu normalisation


@pytest.mark.parametrize(("uri", "expected"), [
    ("https://EXAMPLE.com", "https://example.com/"),
    ("HTTP://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a?b=c#d", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/a/b/..", "https://example.com/a/"),
    ("https://example.com/../..", "https://example.com/"),
    ("https://example.com/%7euser/%2fx/%41", "https://example.com/~user/%2Fx/A"),
    ("https://[::1]:443/x", "https://[::1]/x"),
])
def test_normalize_htu(uri: str, expected: str) -> None:
    assert normalize_htu(uri) == expected


@pytest.mark.parametrize("uri", [
    "ftp://example.com/", "/relative/path", "https://user@example.com/", "https://:443/",
    "https://example.com:99999/", "https://example.com/a b", "https://example.com/\n",
])
def test_normalize_htu_refuses(uri: str) -> None:
    with pytest.raises(ValueError):
        normalize_htu(uri)


segment = st.sampled_from(["a", "B", ".", "..", "", "%7e", "%2f", "%41", "x-y", "~"])


@given(scheme=st.sampled_from(["http", "HTTPS", "Https"]),
       host=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){0,2}", fullmatch=True),
       port=st.one_of(st.none(), st.integers(1, 65535)),
       path=st.lists(segment, max_size=6))
def test_normalize_htu_is_idempotent(scheme: str, host: str, port: int | None,
                                     path: list[str]) -> None:
    uri = f"{scheme}://{host}{'' if port is None else f':{port}'}/{'/'.join(path)}"
    once = normalize_htu(uri)
    assert normalize_htu(once) == once
    assert once.startswith(scheme.lower() + "://" + host.lower())


# replay cache


def test_replay_cache_records_and_expires() -> None:
    clock = [1000.0]
    cache = InMemoryReplayCache(clock=lambda: clock[0])
    assert cache.seen("a", 1060) is False
    assert cache.seen("a", 1060) is True
    clock[0] = 1061
    assert cache.seen("a", 1121) is False
    assert len(cache) == 1


def test_replay_cache_full_fails_closed_then_recovers() -> None:
    clock = [1000.0]
    cache = InMemoryReplayCache(clock=lambda: clock[0], max_entries=2)
    assert not cache.seen("a", 1010) and not cache.seen("b", 1020)
    with pytest.raises(ReplayCacheFull):
        cache.seen("c", 1030)
    clock[0] = 1015
    assert cache.seen("c", 1030) is False
    assert len(cache) == 2


def test_replay_cache_is_thread_safe() -> None:
    cache = InMemoryReplayCache()
    barrier = threading.Barrier(16)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.seen("shared", 2e9))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 15
