"""An embedded chain: `slipway local up --env local --env local-prod` deploys local first and
gives local-prod's synthesis local's deployed public key in place of "embedded"."""

from __future__ import annotations

import pytest

from infra.config import load_environment
from infra.embedded_chain import with_embedded_key
from infra.gate_policy import gate_policy
from slipway.errors import CliError
from slipway.local.environments import in_chain_order
from slipway.target import read_environments

# a real P-256 public key, base64 DER, as KMS GetPublicKey answers
P256_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4R2ceVstYntwI95Tr9RavSQrWninCvrAFxz/fWZPWNgj3Myfi1t0"
    "MM7799TbcrqrpOIuJ2eyEoN4+rB5juIvcA=="
)


def test_the_shipped_local_prod_takes_models_only_from_local_with_durable_datasets():
    config = load_environment(read_environments(), "local-prod")
    assert config.embedded and config.accepts_from.environment == "local"
    assert config.accepts_from.public_key == "embedded"
    assert config.lineage_policy.durable_datasets and not config.lineage_policy.clean_commit


def test_the_deployed_key_replaces_embedded_in_the_gate_policy():
    environments = with_embedded_key(read_environments(), "local-prod", P256_KEY)
    policy = gate_policy(load_environment(environments, "local-prod"))
    assert policy.chain is not None and policy.chain.public_key == P256_KEY
    # the file itself is left as it is
    assert read_environments()["local-prod"]["accepts_from"]["public_key"] == "embedded"


def test_a_written_key_and_an_environment_without_a_chain_are_left_alone():
    environments = read_environments()
    written = {
        **environments,
        "local-prod": {
            **environments["local-prod"],
            "accepts_from": {**environments["local-prod"]["accepts_from"], "public_key": P256_KEY},
        },
    }
    assert with_embedded_key(written, "local-prod", "c29tZXRoaW5nIGVsc2U=") == written
    assert with_embedded_key(environments, "local", P256_KEY) == environments
    assert with_embedded_key(environments, "local-prod", None) == environments


def test_environments_are_deployed_after_the_one_they_accept_models_from():
    environments = read_environments()
    asked = [load_environment(environments, n) for n in ("local-prod", "rehearsal", "local")]
    assert [c.name for c in in_chain_order(asked)] == ["rehearsal", "local", "local-prod"]
    alone = [load_environment(environments, "local-prod")]  # local deployed before: its key
    assert [c.name for c in in_chain_order(alone)] == ["local-prod"]


def test_a_ring_of_environments_is_refused():
    environments = read_environments()
    environments["local"] = {
        **environments["local"],
        "accepts_from": {**environments["local-prod"]["accepts_from"], "environment": "local-prod"},
    }
    ring = [load_environment(environments, n) for n in ("local", "local-prod")]
    with pytest.raises(CliError, match="accept models from each other in a ring"):
        in_chain_order(ring)
