"""Settings: one object, read from ``CONNECTOR_*`` environment variables (and an optional ``.env``).

Every field here is documented in the README's settings table; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.errors import ConfigurationError

DEFAULT_DATA_DIR = Path("./data")


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
