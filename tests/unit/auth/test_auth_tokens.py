"""RFC 9068 access-token validation: positive cases and a token-attack suite.

Tokens are forged here with ``cryptography`` alone (not PyJWT), real Ed25519 / P-256 keys and real
signatures, so the attack cases do not depend on the library under test to build them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from connector.auth.errors import (
    AccessTokenError,
    BadSignature,
    DisallowedAlgorithm,
    ForbiddenHeader,
    InvalidClaim,
    InvalidKeyId,
    LifetimeTooLong,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from connector.auth.tokens import (
    REQUIRED_CLAIMS,
    PublicKey,
    issue_access_token,
    validate_access_token,
)
from connector.errors import InvalidToken

NOW = 1_790_000_000
ISSUER = "https://connector.dodata.example"
AUDIENCE = "https://connector.dodata.example/api"
REVOKED_JTI = "revoked-jti"
BASE_CLAIMS: dict[str, Any] = {
    "iss": ISSUER, "sub": "did:web:partner.example", "aud": AUDIENCE,
    "iat": NOW - 10, "exp": NOW + 290, "jti": "jti-1", "client_id": "partner-app",
    "scope": "catalog:read", "participant": "did:web:partner.example",
}

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, sign: Signer) -> str:
    """A compact JWS built by hand; raw bytes let a case smuggle in malformed JSON."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64(h)}.{b64(c)}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def es_signer(key: ec.EllipticCurvePrivateKey) -> Signer:
    size = (key.curve.key_size + 7) // 8

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return sign


def pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class DictResolver:
    """A real (tiny) KeyResolver: keys of one issuer by kid."""

    def __init__(self, keys: dict[str, PublicKey]) -> None:
        self.keys = keys

    def resolve(self, kid: str | None, iss: str) -> PublicKey:
        if iss != ISSUER or kid is None or kid not in self.keys:
            raise UnknownKey("no key is known for this kid")
        return self.keys[kid]


@dataclass
class World:
    ed: ed25519.Ed25519PrivateKey
    es: ec.EllipticCurvePrivateKey
    p384: ec.EllipticCurvePrivateKey
    attacker: ed25519.Ed25519PrivateKey
    resolver: DictResolver

    def forge(self, *, header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None,
              drop: tuple[str, ...] = (), drop_header: tuple[str, ...] = (),
              sign: Signer | None = None) -> str:
        h = {"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1", **(header or {})}
        c = {**BASE_CLAIMS, **(claims or {})}
        for name in drop_header:
            del h[name]
        for name in drop:
            del c[name]
        return jws(h, c, sign or self.ed.sign)


@pytest.fixture(scope="module")
def world() -> World:
    ed, es = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    resolver = DictResolver({"ed-1": ed.public_key(), "es-1": es.public_key(),
                             "es384-1": p384.public_key()})
    return World(ed, es, p384, ed25519.Ed25519PrivateKey.generate(), resolver)


def validate(world: World, token: str, **kwargs: Any) -> dict[str, Any]:
    return validate_access_token(token, keys=world.resolver, issuer=ISSUER, audience=AUDIENCE,
                                 now=NOW, is_revoked=lambda jti: jti == REVOKED_JTI, **kwargs)


def attacker_jwk(world: World) -> dict[str, str]:
    raw = world.attacker.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}


def tampered(world: World) -> str:
    header, _, signature = world.forge().split(".")
    payload = b64(json.dumps({**BASE_CLAIMS, "sub": "did:web:admin.example"}).encode())
    return f"{header}.{payload}.{signature}"


Case = Callable[[World], str]
ATTACKS: list[Any] = [
    # algorithm confusion
    pytest.param(lambda w: w.forge(header={"alg": "none"}, sign=lambda d: b""),
                 DisallowedAlgorithm, id="alg-none"),
    pytest.param(lambda w: w.forge(header={"alg": "None"}, sign=lambda d: b""),
                 DisallowedAlgorithm, id="alg-None-capitalised"),
    pytest.param(lambda w: w.forge(header={"alg": "HS256"}, sign=lambda d: hmac.new(
        pem(w.ed.public_key()), d, hashlib.sha256).digest()),
                 DisallowedAlgorithm, id="hs256-ed25519-public-key-as-secret"),
    pytest.param(lambda w: w.forge(header={"alg": "HS256", "kid": "es-1"}, sign=lambda d: hmac.new(
        pem(w.es.public_key()), d, hashlib.sha256).digest()),
                 DisallowedAlgorithm, id="hs256-p256-public-key-as-secret"),
    pytest.param(lambda w: w.forge(header={"alg": "RS256"}), DisallowedAlgorithm,
                 id="alg-not-pinned"),
    pytest.param(lambda w: w.forge(header={"alg": "ES256"}), DisallowedAlgorithm,
                 id="alg-es256-on-ed25519-kid"),
    pytest.param(lambda w: w.forge(header={"alg": "ES256", "kid": "es384-1"},
                                   sign=es_signer(w.p384)),
                 DisallowedAlgorithm, id="alg-es256-on-p384-key"),
    # key selection
    pytest.param(lambda w: w.forge(header={"kid": "ed-2"}), UnknownKey, id="unknown-kid"),
    pytest.param(lambda w: w.forge(drop_header=("kid",)), UnknownKey, id="no-kid"),
    pytest.param(lambda w: w.forge(header={"kid": "../../etc/passwd"}), InvalidKeyId,
                 id="kid-path-traversal"),
    pytest.param(lambda w: w.forge(header={"kid": "' OR 1=1 --"}), InvalidKeyId, id="kid-sql"),
    pytest.param(lambda w: w.forge(header={"kid": "a" * 129}), InvalidKeyId, id="kid-too-long"),
    pytest.param(lambda w: w.forge(header={"kid": 7}), InvalidKeyId, id="kid-not-a-string"),
    pytest.param(lambda w: w.forge(header={"kid": "ed-1\x00"}), InvalidKeyId, id="kid-nul-byte"),
    pytest.param(lambda w: w.forge(header={"jku": "https://evil.example/jwks.json"},
                                   sign=w.attacker.sign), ForbiddenHeader, id="jku-injection"),
    pytest.param(lambda w: w.forge(header={"x5u": "https://evil.example/cert.pem"},
                                   sign=w.attacker.sign), ForbiddenHeader, id="x5u-injection"),
    pytest.param(lambda w: w.forge(header={"jwk": attacker_jwk(w)}, drop_header=("kid",),
                                   sign=w.attacker.sign), ForbiddenHeader, id="jwk-injection"),
    pytest.param(lambda w: w.forge(header={"x5c": ["MIIB"]}, sign=w.attacker.sign),
                 ForbiddenHeader, id="x5c-injection"),
    pytest.param(lambda w: w.forge(header={"crit": ["exp"], "exp": 1}), ForbiddenHeader,
                 id="crit-header"),
    pytest.param(lambda w: w.forge(header={"b64": False, "crit": ["b64"]}), ForbiddenHeader,
                 id="b64-unencoded-payload"),
    # signature
    pytest.param(lambda w: w.forge(sign=w.attacker.sign), BadSignature, id="signed-by-other-key"),
    pytest.param(tampered, BadSignature, id="payload-tampered"),
    # token type
    pytest.param(lambda w: w.forge(header={"typ": "JWT"}), WrongTokenType, id="typ-JWT"),
    pytest.param(lambda w: w.forge(drop_header=("typ",)), WrongTokenType, id="typ-missing"),
    pytest.param(lambda w: w.forge(header={"typ": "dpop+jwt"}), WrongTokenType,
                 id="typ-dpop-proof-as-token"),
    # time
    pytest.param(lambda w: w.forge(claims={"iat": NOW - 331, "exp": NOW - 31}), TokenExpired,
                 id="expired"),
    pytest.param(lambda w: w.forge(claims={"nbf": NOW + 60}), TokenNotYetValid,
                 id="nbf-in-future"),
    pytest.param(lambda w: w.forge(claims={"iat": NOW + 60, "exp": NOW + 360}), TokenNotYetValid,
                 id="iat-in-future"),
    pytest.param(lambda w: w.forge(claims={"exp": NOW + 3590}), LifetimeTooLong,
                 id="lifetime-too-long"),
    # claims
    *[pytest.param(lambda w, name=name: w.forge(drop=(name,)), MissingClaim,
                   id=f"missing-{name}") for name in REQUIRED_CLAIMS],
    pytest.param(lambda w: w.forge(claims={"aud": "https://other.example/api"}), WrongAudience,
                 id="wrong-aud"),
    pytest.param(lambda w: w.forge(claims={"aud": ["https://a.example", "https://b.example"]}),
                 WrongAudience, id="wrong-aud-list"),
    pytest.param(lambda w: w.forge(claims={"iss": "https://evil.example"}), WrongIssuer,
                 id="wrong-iss"),
    pytest.param(lambda w: w.forge(claims={"jti": REVOKED_JTI}), TokenRevoked, id="revoked-jti"),
    pytest.param(lambda w: w.forge(claims={"exp": str(NOW + 290)}), InvalidClaim,
                 id="exp-not-a-number"),
    pytest.param(lambda w: w.forge(claims={"exp": True}), InvalidClaim, id="exp-boolean"),
    pytest.param(lambda w: w.forge(claims={"aud": 42}), InvalidClaim, id="aud-not-a-string"),
    pytest.param(lambda w: w.forge(claims={"sub": ""}), InvalidClaim, id="sub-empty"),
    pytest.param(lambda w: w.forge(claims={"cnf": {"jkt": 1}}), InvalidClaim, id="cnf-malformed"),
    # shape
    pytest.param(lambda w: w.forge().rsplit(".", 1)[0], MalformedToken, id="two-segments"),
    pytest.param(lambda w: w.forge() + "=", MalformedToken, id="padded-signature"),
    pytest.param(lambda w: "not a token", MalformedToken, id="garbage"),
    pytest.param(lambda w: jws(b'{"alg":"EdDSA","typ":"at+jwt","kid":"ed-1","alg":"none"}',
                               BASE_CLAIMS, w.ed.sign), MalformedToken, id="duplicate-header-alg"),
    pytest.param(lambda w: jws({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1"},
                               json.dumps(BASE_CLAIMS)[:-1].encode() + b',"sub":"root"}',
                               w.ed.sign), MalformedToken, id="duplicate-claim-sub"),
    pytest.param(lambda w: jws({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1"}, b"[1, 2]",
                               w.ed.sign), MalformedToken, id="payload-not-an-object"),
]


@pytest.mark.parametrize(("case", "error"), ATTACKS)
def test_attack_is_rejected(world: World, case: Case, error: type[AccessTokenError]) -> None:
    token = case(world)
    with pytest.raises(error) as caught:
        validate(world, token)
    assert type(caught.value) is error
    assert isinstance(caught.value, InvalidToken) and caught.value.status == 401
    assert caught.value.error == "invalid_token"
    message = str(caught.value)
    assert token not in message
    assert all(len(part) < 8 or part not in message for part in token.split("."))


def test_attack_suite_is_large_enough() -> None:
    assert len(ATTACKS) >= 25


def test_missing_claim_names_the_claim(world: World) -> None:
    with pytest.raises(MissingClaim) as caught:
        validate(world, world.forge(drop=("client_id",)))
    assert caught.value.extra["claim"] == "client_id"


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_issued_token_validates(world: World, alg: str) -> None:
    key, kid = (world.ed, "ed-1") if alg == "EdDSA" else (world.es, "es-1")
    token, claims = issue_access_token(
        private_key=key, kid=kid, alg=alg, issuer=ISSUER, audience=AUDIENCE,
        subject="did:web:partner.example", client_id="partner-app", scope="catalog:read",
        participant="did:web:partner.example", now=NOW, extra_claims={"roles": ["partner"]})
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": alg, "kid": kid, "typ": "at+jwt"}
    assert validate(world, token) == claims
    assert claims["exp"] - claims["iat"] == 300 and claims["roles"] == ["partner"]
    assert "cnf" not in claims


def test_hand_signed_es256_token_validates(world: World) -> None:
    token = world.forge(header={"alg": "ES256", "kid": "es-1"}, sign=es_signer(world.es))
    assert validate(world, token)["sub"] == "did:web:partner.example"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_variants_accepted(world: World, typ: str) -> None:
    assert validate(world, world.forge(header={"typ": typ}))["jti"] == "jti-1"


def test_aud_list_and_nbf_accepted(world: World) -> None:
    token = world.forge(claims={"aud": ["https://other.example", AUDIENCE], "nbf": NOW - 5})
    assert validate(world, token)["aud"][1] == AUDIENCE


@pytest.mark.parametrize(("exp", "accepted"), [(NOW - 29, True), (NOW - 30, False)])
def test_expiry_leeway_boundary(world: World, exp: int, accepted: bool) -> None:
    token = world.forge(claims={"iat": exp - 300, "exp": exp})
    if accepted:
        assert validate(world, token)["exp"] == exp
    else:
        with pytest.raises(TokenExpired):
            validate(world, token)


def test_zero_leeway_and_custom_lifetime(world: World) -> None:
    token = world.forge(claims={"iat": NOW - 10, "exp": NOW + 1190})
    assert validate(world, token, leeway=0, max_lifetime=1200)["exp"] == NOW + 1190
    with pytest.raises(TokenNotYetValid):
        validate(world, world.forge(claims={"nbf": NOW + 1}), leeway=0)


def test_bound_token_and_real_clock(world: World) -> None:
    token, claims = issue_access_token(
        private_key=world.ed, kid="ed-1", alg="EdDSA", issuer=ISSUER, audience=[AUDIENCE],
        subject="s", client_id="c", scope="", participant="did:web:p.example", cnf_jkt="abc")
    assert claims["cnf"] == {"jkt": "abc"} and claims["aud"] == [AUDIENCE]
    assert validate_access_token(token, keys=world.resolver, issuer=ISSUER,
                                 audience=AUDIENCE) == claims


def test_jti_is_random(world: World) -> None:
    issued = [issue_access_token(private_key=world.ed, kid="ed-1", alg="EdDSA", issuer=ISSUER,
                                 audience=AUDIENCE, subject="s", client_id="c", scope="",
                                 participant="p", now=NOW)[1]["jti"] for _ in range(20)]
    assert len(set(issued)) == 20 and all(len(jti) >= 32 for jti in issued)


def test_resolver_key_error_means_unknown_key(world: World) -> None:
    class KeyErrorResolver:
        def resolve(self, kid: str | None, iss: str) -> PublicKey:
            return {"ed-1": world.ed.public_key()}[kid or ""]

    with pytest.raises(UnknownKey):
        validate_access_token(world.forge(header={"kid": "ed-9"}), keys=KeyErrorResolver(),
                              issuer=ISSUER, audience=AUDIENCE, now=NOW)


def test_resolver_returning_private_key_is_refused(world: World) -> None:
    class PrivateResolver:
        def resolve(self, kid: str | None, iss: str) -> Any:
            return world.ed

    with pytest.raises(DisallowedAlgorithm):
        validate_access_token(world.forge(), keys=PrivateResolver(), issuer=ISSUER,
                              audience=AUDIENCE, now=NOW)


@pytest.mark.parametrize("kwargs", [
    {"leeway": 31}, {"leeway": -1}, {"allowed_algs": ("HS256",)}, {"allowed_algs": ("none",)},
    {"allowed_algs": ("EdDSA", "HS512")}, {"allowed_algs": ()}, {"max_lifetime": 0},
], ids=str)
def test_unsafe_configuration_is_a_value_error(world: World, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        validate_access_token(world.forge(), keys=world.resolver, issuer=ISSUER,
                              audience=AUDIENCE, now=NOW, **kwargs)


@pytest.mark.parametrize("kwargs", [
    {"alg": "HS256"}, {"alg": "none"}, {"kid": "../k"}, {"lifetime": 0},
    {"extra_claims": {"sub": "root"}}, {"extra_claims": {"cnf": {}}},
], ids=str)
def test_issue_refuses_bad_arguments(world: World, kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "private_key": world.ed, "kid": "ed-1", "alg": "EdDSA", "issuer": ISSUER,
        "audience": AUDIENCE, "subject": "s", "client_id": "c", "scope": "", "participant": "p",
        **kwargs}
    with pytest.raises(ValueError):
        issue_access_token(**arguments)
