"""An embedded chain: `slipway local up --env local --env local-prod` deploys local first and
gives local-prod's synthesis local's deployed public key in place of "embedded"."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from infra.config import ConfigError, load_environment
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
    shipped_local_prod = load_environment(environments, "local-prod")  # accepts from local
    environments["local"] = {
        **environments["local"],
        "accepts_from": {**environments["local-prod"]["accepts_from"], "environment": "local-prod"},
    }
    # cdk.json refuses the ring as it loads (infra/config.py)
    with pytest.raises(ConfigError, match="accept models from each other in a ring"):
        load_environment(environments, "local")
    # AND configs read from two versions of cdk.json that make one are refused in order
    del environments["local-prod"]["accepts_from"]
    ring = [load_environment(environments, "local"), shipped_local_prod]
    with pytest.raises(CliError, match="accept models from each other in a ring"):
        in_chain_order(ring)


@pytest.fixture
def moto_server():
    """A moto server as the embedded cloud is one: reached by endpoint URL, like the CLI."""
    from moto.server import ThreadedMotoServer

    from slipway.local.cloud import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        # moto's backends are the process's: the next server would find these stacks
        urllib.request.urlopen(
            urllib.request.Request(f"http://localhost:{port}/moto-api/reset", method="POST")
        )
        server.stop()


def _state(endpoint: str) -> Any:
    from slipway.local.state import LocalState

    return LocalState(
        pid=1, endpoint_url=endpoint, access_key_id="x", secret_access_key="y", routes={}
    )


def _local_stacks(endpoint: str, outputs: dict[str, str]) -> None:
    """local's four stacks, as deployed; ``outputs`` on one of them."""
    import boto3

    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint)
    for part in ("data", "serving", "workflow", "monitoring"):
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items() if part == "workflow"},
        }
        cloudformation.create_stack(
            StackName=f"slipway-local-{part}", TemplateBody=json.dumps(template)
        )


def test_local_prods_deploy_is_given_locals_deployed_public_key(moto_server):
    import base64

    import boto3

    from infra.embedded_chain import EMBEDDED_KEY_CONTEXT
    from slipway.local.environments import chain_context

    # GIVEN local deployed with its attestation key (an ECC key, as infra declares it)
    kms = boto3.client("kms", endpoint_url=moto_server)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    _local_stacks(moto_server, {"AttestationKeyArn": key})
    # WHEN local-prod's deploy context is made
    context = chain_context(
        load_environment(read_environments(), "local-prod"), _state(moto_server)
    )
    # THEN it holds local's public key, the one KMS answers, as cdk.json would hold it
    public = base64.b64encode(kms.get_public_key(KeyId=key)["PublicKey"]).decode()
    assert context == {EMBEDDED_KEY_CONTEXT: public}
    filled = with_embedded_key(read_environments(), "local-prod", public)
    assert load_environment(filled, "local-prod").accepts_from.public_key == public
    # AND an environment without "embedded" needs nothing
    assert chain_context(load_environment(read_environments(), "local"), _state(moto_server)) == {}


def test_local_prod_is_refused_while_local_is_not_deployed(moto_server):
    from slipway.local.environments import chain_context

    with pytest.raises(CliError, match=r"slipway local up --env local --env local-prod"):
        chain_context(load_environment(read_environments(), "local-prod"), _state(moto_server))


def test_a_key_given_at_deploy_time_never_stands_in_for_an_aws_environments_written_key():
    # GIVEN prod (in AWS) whose cdk.json says "embedded" where staging's key belongs
    environments = read_environments()
    environments["prod"] = {
        **environments["prod"],
        "accepts_from": {
            "environment": "staging",
            "account": environments["staging"]["account"],
            "region": environments["staging"]["region"],
            "public_key": "embedded",
        },
    }
    environments["staging"] = {
        **environments["staging"],
        "model_readers": [environments["prod"]["account"]],
    }
    # WHEN it is deployed with a key as context (-c slipway:accepts-from-public-key=...)
    given = with_embedded_key(environments, "prod", P256_KEY)
    # THEN cdk.json still refuses it: the key must be written there, reviewed with the code
    assert given == environments
    with pytest.raises(ConfigError, match="'embedded' is only for embedded environments"):
        load_environment(given, "prod")
