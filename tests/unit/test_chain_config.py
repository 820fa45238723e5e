"""A chain in cdk.json is coherent as a whole: the earlier environment exists, is where
`accepts_from` says, and its bucket grant (`model_readers`) lets the next account read the
bundles `slipway promote` copies. Only loading with every environment in view can tell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.config import ConfigError, load_environment

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
P256_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4R2ceVstYntwI95Tr9RavSQrWninCvrAFxz/fWZPWNgj3Myfi1t0"
    "MM7799TbcrqrpOIuJ2eyEoN4+rB5juIvcA=="
)


def shipped() -> dict:
    return json.loads(CDK_JSON.read_text())["context"]["environments"]


def prod_from_staging(**changes) -> dict:
    environments = shipped()
    accepts = {
        "environment": "staging",
        "account": "333333333333",
        "region": "eu-west-1",
        "public_key": P256_KEY,
        **changes,
    }
    environments["prod"] = {**environments["prod"], "accepts_from": accepts}
    return environments


def test_prod_may_take_models_from_staging_whose_bucket_grant_names_prod():
    # GIVEN the shipped staging, whose model_readers lists prod's account
    assert "222222222222" in shipped()["staging"]["model_readers"]
    assert load_environment(prod_from_staging(), "prod").accepts_from.environment == "staging"


def test_a_chain_whose_earlier_bucket_does_not_let_the_next_account_read_is_refused():
    environments = prod_from_staging()
    environments["staging"] = {**environments["staging"], "model_readers": []}
    with pytest.raises(ConfigError) as raised:
        load_environment(environments, "prod")
    message = str(raised.value)
    assert "environments.staging.model_readers must list 222222222222" in message
    assert "bucket grant" in message


def test_environments_of_one_account_need_no_bucket_grant():
    environments = shipped()
    environments["rehearsal"] = {
        **environments["rehearsal"],
        "accepts_from": {
            "environment": "local",
            "account": "123456789012",
            "region": "us-east-1",
            "public_key": "embedded",
        },
    }
    assert load_environment(environments, "rehearsal").accepts_from.environment == "local"


def test_an_unknown_earlier_environment_and_a_wrong_account_or_region_are_each_named():
    with pytest.raises(ConfigError, match=r"'stagign' is not in cdk\.json; known: "):
        load_environment(prod_from_staging(environment="stagign"), "prod")
    with pytest.raises(ConfigError) as raised:
        load_environment(prod_from_staging(account="444444444444", region="us-west-2"), "prod")
    message = str(raised.value)
    assert "has 2 problem(s)" in message
    assert "accepts_from.account: 444444444444, but staging is in account 333333333333" in message
    assert "accepts_from.region: us-west-2, but staging is in region eu-west-1" in message


def test_environments_accepting_from_each_other_in_a_ring_are_refused():
    # GIVEN staging accepts from prod, and prod from staging (a -> b -> a): no model enters
    environments = prod_from_staging()
    environments["staging"] = {
        **environments["staging"],
        "accepts_from": {
            "environment": "prod",
            "account": environments["prod"]["account"],
            "region": environments["prod"]["region"],
            "public_key": P256_KEY,
        },
        "model_readers": [environments["prod"]["account"]],
    }
    environments["prod"]["model_readers"] = [environments["staging"]["account"]]
    # THEN each of them is refused, naming the ring
    for name, ring in (
        ("prod", "prod <- staging <- prod"),
        ("staging", "staging <- prod <- staging"),
    ):
        with pytest.raises(ConfigError, match=f"in a ring \\({ring}\\)"):
            load_environment(environments, name)
    # AND an environment merely downstream of a ring is not blamed for it
    environments["dev"] = {
        **environments["dev"],
        "accepts_from": {**environments["staging"]["accepts_from"], "environment": "staging"},
    }
    try:
        load_environment(environments, "dev")
    except ConfigError as other_problems:
        assert "ring" not in str(other_problems)
