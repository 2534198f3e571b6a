"""Settings, their README table, and the container files that set them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from connector.config import Settings, default_policy_dir

ROOT = Path(__file__).resolve().parents[2]
ENV_NAMES = {f"CONNECTOR_{name.upper()}" for name in Settings.model_fields}


def test_every_setting_is_in_the_readme_table_and_nothing_else() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(CONNECTOR_[A-Z_]+)` \|", readme, flags=re.M))
    assert documented == ENV_NAMES


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme.split("## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", head, flags=re.S)
    assert len(blocks) == 2
    assert "connector serve --demo" in blocks[0]
    assert blocks[1].strip() == "scripts/test"


def test_ci_calls_the_readme_test_command() -> None:
    assert "scripts/test" in (ROOT / ".ci/run").read_text()


def test_compose_sets_only_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    env = compose["services"]["connector"]["environment"]
    assert set(env) <= ENV_NAMES, set(env) - ENV_NAMES
    assert env["CONNECTOR_OPA_URL"].startswith("http://opa:")
    assert env["CONNECTOR_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert compose["services"]["opa"]["image"] == "openpolicyagent/opa:1.20.2"
    assert "decision_logs.console=true" in compose["services"]["opa"]["command"]
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    Settings(**{k.removeprefix("CONNECTOR_").lower(): v for k, v in env.items()})


def test_dockerfile_sets_only_real_settings_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"\b(CONNECTOR_[A-Z_]+)=", dockerfile))
    assert names and names <= ENV_NAMES
    assert re.search(r"^USER connector$", dockerfile, flags=re.M)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CONNECTOR_OPA_URL", "http://127.0.0.1:8181")
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://hub.example/")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.opa_url == "http://127.0.0.1:8181"
    assert settings.public_url == "https://hub.example"
    assert settings.effective_issuer == "https://hub.example"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'connector.db'}"


def test_production_needs_a_database_url() -> None:
    with pytest.raises(ValidationError, match="production mode needs"):
        Settings(production=True)


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(max_body_bytes=0)
    with pytest.raises(ValidationError):
        Settings(log_level="LOUD")  # type: ignore[arg-type]


def test_generated_keys_only_outside_production_unless_allowed() -> None:
    url = "postgresql+psycopg://x@localhost/x"
    assert Settings().may_generate_keys
    assert not Settings(production=True, database_url=url).may_generate_keys
    assert Settings(production=True, database_url=url, allow_generated_keys=True).may_generate_keys


def test_policy_dir_defaults_to_the_shipped_policies() -> None:
    assert default_policy_dir() == ROOT / "policies"
    assert Settings().effective_policy_dir == ROOT / "policies"
