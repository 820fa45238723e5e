"""The cdk.json ci block (infra/config.py, CiConfig): strict, exact claims only, and one job
never both ships and approves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.config import ConfigError, load_environment

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
ENVIRONMENTS = json.loads(CDK_JSON.read_text())["context"]["environments"]
PROVIDER = "arn:aws:iam::{}:oidc-provider/token.actions.githubusercontent.com"


def with_ci(ci: dict, env: str = "dev") -> dict:
    return {env: {**ENVIRONMENTS[env], "ci": ci}}


def test_no_ci_block_deploys_no_ci_access():
    assert load_environment(ENVIRONMENTS, "local").ci is None


def test_the_shipped_chain_names_one_subject_per_duty():
    dev, staging, prod = (load_environment(ENVIRONMENTS, e).ci for e in ("dev", "staging", "prod"))
    assert dev is not None and staging is not None and prod is not None
    assert dev.push_branch == "main"
    # the jobs that promote staging -> prod run in GitHub environment 'prod': they write to
    # prod and read from staging
    assert staging.promote_source_environment == prod.promote_environment == "prod"
    assert dev.promote_source_environment == staging.promote_environment == "staging"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("github_repository", "example-org/*"),  # a pattern would trust many repositories
        ("github_repository", "example-org"),
        ("push_branch", "release/*"),
        ("promote_environment", "prod:x"),  # ':' would make the subject claim ambiguous
        ("approve_environment", ""),
        ("max_session_hours", 13),  # IAM's most is 12
        ("max_session_hours", 0),
    ],
)
def test_wildcards_and_malformed_values_are_refused(field, value):
    ci = {"github_repository": "example-org/churn-model", "push_branch": "main", field: value}
    with pytest.raises(ConfigError, match=rf"environments\.dev\.ci\.{field}"):
        load_environment(with_ci(ci), "dev")


def test_an_unknown_key_is_refused():
    ci = {"github_repository": "o/r", "push_branch": "main", "branch": "main"}
    with pytest.raises(ConfigError, match=r"ci\.branch: unknown field"):
        load_environment(with_ci(ci), "dev")


def test_a_block_that_grants_nothing_is_refused():
    with pytest.raises(ConfigError, match="ci grants nothing"):
        load_environment(with_ci({"github_repository": "o/r"}), "dev")


@pytest.mark.parametrize("promote", ["promote_environment", "promote_source_environment"])
def test_approvers_run_in_a_github_environment_of_their_own(promote):
    ci = {"github_repository": "o/r", promote: "prod", "approve_environment": "prod"}
    with pytest.raises(ConfigError, match="one job could then ship a version and approve it"):
        load_environment(with_ci(ci, "prod"), "prod")


def test_an_imported_provider_is_one_of_the_environments_account():
    account = ENVIRONMENTS["dev"]["account"]
    ci = {"github_repository": "o/r", "push_branch": "main"}
    ok = load_environment(with_ci({**ci, "oidc_provider_arn": PROVIDER.format(account)}), "dev")
    assert ok.ci is not None and ok.ci.oidc_provider_arn == PROVIDER.format(account)
    with pytest.raises(ConfigError, match="not the environment's"):
        load_environment(with_ci({**ci, "oidc_provider_arn": PROVIDER.format("9" * 12)}), "dev")
    other_issuer = "arn:aws:iam::111111111111:oidc-provider/gitlab.com"
    with pytest.raises(ConfigError, match="oidc_provider_arn"):
        load_environment(with_ci({**ci, "oidc_provider_arn": other_issuer}), "dev")


def test_an_embedded_environment_takes_no_ci_block():
    ci = {"github_repository": "o/r", "push_branch": "main"}
    with pytest.raises(ConfigError, match="GitHub cannot reach the embedded cloud"):
        load_environment(with_ci(ci, "local"), "local")


def test_a_ci_block_needs_the_environments_approvers():
    # every CI role may call the registry API: without approvers, the push role could approve
    environment = {**ENVIRONMENTS["staging"]}
    del environment["approvers"]
    with pytest.raises(ConfigError, match=r"must list its approvers .*slipway-staging-ci-approve"):
        load_environment({**ENVIRONMENTS, "staging": environment}, "staging")
    # AND the shipped environments with a ci block list them
    for name in ("dev", "staging", "prod"):
        assert load_environment(ENVIRONMENTS, name).approvers
