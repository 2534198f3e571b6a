"""Errors of the resource-side OAuth checks, all under ``connector.errors``.

::

    InvalidToken (connector.errors)       401 invalid-token
    ├── AccessTokenError                  error="invalid_token" (RFC 6750 §3.1)
    │   ├── MalformedToken                not a compact JWS, bad base64/JSON, duplicate members
    │   ├── WrongTokenType                header typ is not at+jwt
    │   ├── DisallowedAlgorithm           alg not pinned, or the key does not fit the alg
    │   ├── ForbiddenHeader               jku / x5u / jwk / x5c / crit / b64 in the header
    │   ├── InvalidKeyId                  kid is not a short safe string
    │   ├── UnknownKey                    the resolver knows no key for this kid and issuer
    │   ├── BadSignature                  signature does not verify
    │   ├── MissingClaim                  a required claim is absent (``extra["claim"]``)
    │   ├── InvalidClaim                  a claim has the wrong type or shape
    │   ├── TokenExpired                  exp has passed
    │   ├── TokenNotYetValid              nbf or iat lies in the future
    │   ├── LifetimeTooLong               exp - iat exceeds the allowed lifetime
    │   ├── WrongIssuer                   iss is not the configured issuer
    │   ├── WrongAudience                 aud does not name this resource server
    │   ├── TokenRevoked                  jti is on the revocation list
    │   ├── MalformedAuthorization        Authorization header is not one ``Bearer|DPoP token``
    │   ├── WrongTokenBinding             DPoP-bound token sent as Bearer, or unbound as DPoP
    │   ├── ClientDisabled                the token's client is disabled or unknown
    │   └── UnknownIssuer                 iss names no configured issuer
    └── InvalidDpopProof                  error="invalid_dpop_proof" (RFC 9449 §5, §7.1)

    Unauthenticated (connector.errors)
    └── MissingToken                      no Authorization header (challenge without error)

    ServiceUnavailable (connector.errors)
    ├── ReplayCacheFull                   the DPoP replay cache refuses new entries
    └── JwksUnavailable                   an external issuer's JWKS cannot be fetched

Messages name the check that failed and never echo the token or attacker-chosen header values.
"""

from __future__ import annotations

from connector.errors import InvalidToken, ServiceUnavailable, Unauthenticated


class AccessTokenError(InvalidToken):
    """An access token failed validation; ``error`` is the RFC 6750 error code."""

    error = "invalid_token"


class MalformedToken(AccessTokenError):
    """The token is not a well-formed compact JWS with a JSON object header and payload."""


class WrongTokenType(AccessTokenError):
    """The header ``typ`` is not ``at+jwt`` (RFC 9068 §2.1)."""


class DisallowedAlgorithm(AccessTokenError):
    """The header ``alg`` is not one of the pinned asymmetric algorithms."""


class ForbiddenHeader(AccessTokenError):
    """The header carries a parameter that could redirect key selection."""


class InvalidKeyId(AccessTokenError):
    """The header ``kid`` is not a short, safe identifier."""


class UnknownKey(AccessTokenError):
    """No key is known for this ``kid`` and issuer. Key resolvers raise this."""


class BadSignature(AccessTokenError):
    """The signature does not verify with the resolved key."""


class MissingClaim(AccessTokenError):
    """A required claim is absent; ``extra["claim"]`` names it."""


class InvalidClaim(AccessTokenError):
    """A claim has the wrong type or shape."""


class TokenExpired(AccessTokenError):
    """The ``exp`` claim has passed (beyond the leeway)."""


class TokenNotYetValid(AccessTokenError):
    """The ``nbf`` or ``iat`` claim lies in the future (beyond the leeway)."""


class LifetimeTooLong(AccessTokenError):
    """``exp - iat`` is longer than the resource server accepts."""


class WrongIssuer(AccessTokenError):
    """The ``iss`` claim is not the configured issuer."""


class WrongAudience(AccessTokenError):
    """The ``aud`` claim does not contain this resource server."""


class TokenRevoked(AccessTokenError):
    """The token's ``jti`` has been revoked."""


class MalformedAuthorization(AccessTokenError):
    """The Authorization header is missing a token, repeated, or not ``Bearer``/``DPoP``."""


class WrongTokenBinding(AccessTokenError):
    """A DPoP-bound token came as a Bearer token, or an unbound token with the DPoP scheme."""


class ClientDisabled(AccessTokenError):
    """The client the token was issued to is disabled (or no longer registered)."""


class UnknownIssuer(AccessTokenError):
    """The token's ``iss`` is neither this server nor a configured external issuer."""


class MissingToken(Unauthenticated):
    """The request carries no access token at all (RFC 6750 §3.1: no error code)."""


class JwksUnavailable(ServiceUnavailable):
    """An external issuer's JWKS could not be fetched and no cached copy is usable."""


class InvalidDpopProof(InvalidToken):
    """A DPoP proof failed validation (RFC 9449 §4.3)."""

    code = "invalid-dpop-proof"
    title = "Invalid DPoP proof"
    error = "invalid_dpop_proof"


class ReplayCacheFull(ServiceUnavailable):
    """The DPoP replay cache is full; new proofs are refused until entries expire."""
