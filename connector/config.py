"""Settings: one object, read from ``CONNECTOR_*`` environment variables (and an optional ``.env``).

Every field here is documented in the README's settings table; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.errors import ConfigurationError

DEFAULT_DATA_DIR = Path("./data")


class ExternalIssuer(BaseModel):
    """An external OAuth issuer (e.g. a Keycloak realm) whose access tokens are accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(description="The issuer's `iss` value, e.g. "
                        "`https://idp.example/realms/dataspace`.")
    jwks_uri: str = Field(description="URL of the issuer's JWKS.")
    audience: str | None = Field(None, description="Required `aud`; unset means `public_url`.")
    algorithms: tuple[str, ...] = Field(("RS256", "ES256", "EdDSA"),
                                        description="Pinned signature algorithms.")
    roles_claim: str = Field("roles", description="Dotted path of the roles claim, e.g. "
                             "`realm_access.roles`.")
    role_map: dict[str, str] = Field(default_factory=dict, description="IdP role name to "
                                     "connector role; unmapped names are taken as they are.")
    participant_claim: str = Field("participant", description="Dotted path of the claim "
                                   "naming the participant.")
    scopes_from_roles: bool = Field(False, description="Grant every scope of the mapped roles "
                                    "instead of intersecting them with the token's `scope`.")
    max_token_lifetime: int = Field(600, gt=0, le=3600, description="Longest accepted "
                                    "`exp - iat` in seconds.")
    jwks_cache_seconds: float = Field(300.0, gt=0, description="How long fetched keys are "
                                      "trusted before a refresh.")
    jwks_min_refresh_seconds: float = Field(10.0, ge=0, description="Least time between two "
                                            "fetches (a token with an unknown kid triggers one).")


def _default_identity() -> list[Literal["oauth2", "fixed"]]:
    return ["oauth2"]


class Settings(BaseSettings):
    """All settings of one connector instance."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", env_file=".env", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Directory for the SQLite file, keys and "
                           "file-backed datasets; created at start.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset means a SQLite file "
                                     "`connector.db` in the data dir. PostgreSQL: "
                                     "`postgresql+psycopg://user:pw@host/db`.")
    opa_url: str | None = Field(None, description="Base URL of an OPA sidecar (e.g. "
                                "`http://127.0.0.1:8181`); unset means the embedded Rego engine.")
    opa_timeout: float = Field(2.0, gt=0, description="Seconds before an OPA call counts as failed "
                               "(and the decision as a deny).")
    opa_load_policies: bool = Field(True, description="Upload `policies/` into the OPA sidecar at "
                                    "start (turn off when OPA loads them from a bundle itself).")
    policy_dir: Path | None = Field(None, description="Directory of Rego policies; unset means the "
                                    "`policies/` directory shipped with the connector.")
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL under which partners "
                            "reach this connector (used in DSP callbacks and token audiences).")
    participant_id: str = Field("did:web:dodata.example", description="This connector's "
                                "participant id in the data space.")
    issuer: str | None = Field(None, description="OAuth2 issuer of the embedded authorization "
                               "server; unset means `public_url`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the JSON-lines log on stderr.")
    production: bool = Field(False, description="Production mode: refuses dev-only conveniences "
                             "(client secrets, generated keys) unless explicitly allowed.")
    allow_generated_keys: bool = Field(False, description="In production mode, still allow signing "
                                       "keys to be generated into the data dir at first start.")
    allow_client_secrets: bool = Field(False, description="In production mode, still allow "
                                       "`client_secret_basic` client authentication.")
    max_body_bytes: int = Field(1_048_576, gt=0, description="Request bodies larger than this get "
                                "413 before they are read.")
    audit_origin: str = Field("dodata.example/audit", description="Origin line of signed audit "
                              "checkpoints.")
    audit_checkpoint_entries: int = Field(1000, gt=0, description="Sign a new audit checkpoint "
                                          "once this many entries are unsigned.")
    audit_checkpoint_seconds: float = Field(10.0, gt=0, description="Sign a new audit "
                                            "checkpoint at least this often while entries are "
                                            "unsigned.")
    consent_sweep_seconds: float = Field(60.0, gt=0, description="Look for consent records "
                                         "that expired at least this often (and at each "
                                         "record's expiry time); expiry ends their transfers "
                                         "like a withdrawal.")
    access_token_lifetime: int = Field(300, ge=30, le=600, description="Lifetime in seconds of "
                                       "access tokens issued by the embedded authorization "
                                       "server (at most 10 minutes).")
    dsp_identity: list[Literal["oauth2", "fixed"]] = Field(
        default_factory=_default_identity, description="DSP identity schemes, tried in order "
        "for incoming messages (JSON list): `oauth2` (access tokens) and `fixed` (fixed header "
        "values; refused in production mode).")
    dsp_fixed_credentials: dict[str, str] = Field(
        default_factory=dict, description="For the `fixed` scheme: a JSON object mapping exact "
        "`Authorization` header values to participant ids.")
    dsp_fixed_outgoing: str | None = Field(None, description="For the `fixed` scheme: the "
                                           "`Authorization` header sent with our messages.")
    dsp_token_url: str | None = Field(None, description="Token endpoint where we obtain access "
                                      "tokens for our outgoing DSP messages (the counterparty's "
                                      "authorization server or a shared IdP).")
    dsp_client_id: str | None = Field(None, description="Our client id at `dsp_token_url` "
                                      "(authenticated with `private_key_jwt`, our "
                                      "access-token key).")
    dsp_callback_delay: float = Field(0.0, ge=0, le=60, description="Seconds to hold back "
                                      "a DSP message after the change that causes it commits.")
    dsp_retry_seconds: float = Field(60.0, gt=0, description="How long an undelivered DSP "
                                     "message is retried (with back-off) before it is given "
                                     "up.")
    sql_sources: dict[str, str] = Field(
        default_factory=dict, description="Databases SQL-backed datasets may read, as a JSON "
        "object mapping a source name to a SQLAlchemy URL (use a read-only database user).")
    sql_row_limit: int = Field(100_000, gt=0, description="Most rows a SQL-backed dataset "
                               "serves per transfer.")
    http_source_timeout: float = Field(30.0, gt=0, description="Seconds to wait for the "
                                       "origin of an HTTP-backed dataset (connect and each "
                                       "read).")
    transfer_token_lifetime: int = Field(600, ge=30, le=600, description="Lifetime in "
                                         "seconds of the data-plane token a pull transfer's "
                                         "start message carries (at most 10 minutes).")
    transfer_chunk_bytes: int = Field(4_194_304, ge=4096, le=16_777_216, description="Bytes "
                                      "read and sent at a time when streaming a dataset "
                                      "(memory per running stream is a few chunks).")
    transfer_http_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a "
                                         "consumer's push endpoint, or a provider's data "
                                         "plane when fetching as consumer (connect and each "
                                         "read or write).")
    external_issuers: list[ExternalIssuer] = Field(
        default_factory=list, description="External issuers whose tokens are accepted, as a "
        "JSON list of objects with `issuer`, `jwks_uri` and optionally `audience`, "
        "`algorithms`, `roles_claim`, `role_map`, `participant_claim`, `scopes_from_roles`, "
        "`max_token_lifetime`, `jwks_cache_seconds`, `jwks_min_refresh_seconds`.")

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.production and self.database_url is None:
            raise ValueError("production mode needs CONNECTOR_DATABASE_URL (no implicit SQLite)")
        return self

    @property
    def effective_issuer(self) -> str:
        return (self.issuer or self.public_url).rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'connector.db').resolve()}"

    @property
    def effective_policy_dir(self) -> Path:
        if self.policy_dir is not None:
            return self.policy_dir
        return default_policy_dir()

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def may_generate_keys(self) -> bool:
        return not self.production or self.allow_generated_keys

    @property
    def client_secrets_allowed(self) -> bool:
        return not self.production or self.allow_client_secrets


def default_policy_dir() -> Path:
    """The Rego policies shipped with the connector (repository checkout or installed copy)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "policies", here / "policies"):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError("no policies/ directory found; set CONNECTOR_POLICY_DIR")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` and pass it to create_app."""
    return Settings()
