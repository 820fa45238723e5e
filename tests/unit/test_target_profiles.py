"""One process, two accounts: a CI job promoting from staging to prod names each
environment's AWS profile (SLIPWAY_PROFILE_<ENV>); other environments keep the default chain."""

from __future__ import annotations

from infra.config import load_environment
from slipway.target import Target, profile_variable, read_environments


def test_an_environments_profile_variable_names_its_credentials(tmp_path, monkeypatch):
    # GIVEN the job's own credentials in the environment's variables (conftest: 'testing'),
    # and the source account's in a profile, as docs/cicd.md's promote job writes them
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[slipway-source]\naws_access_key_id = SOURCEKEY\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv(profile_variable("staging"), "slipway-source")
    environments = read_environments()
    # WHEN each environment's session resolves its credentials
    staging = Target(load_environment(environments, "staging")).session.get_credentials()
    prod = Target(load_environment(environments, "prod")).session.get_credentials()
    # THEN staging's come from its profile (not the variables) and prod's from the variables
    assert staging.access_key == "SOURCEKEY"
    assert prod.access_key == "testing"


def test_the_variable_name_is_the_environment_in_capitals():
    assert profile_variable("staging") == "SLIPWAY_PROFILE_STAGING"
    assert profile_variable("local-prod") == "SLIPWAY_PROFILE_LOCAL_PROD"
