"""cdk.json environments: the shipped ones are valid, a bad one lists every problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.config import ConfigError, load_environment

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def environments() -> dict:
    return json.loads(CDK_JSON.read_text())["context"]["environments"]


SHIPPED = ["local", "rehearsal", "dev", "staging", "prod"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_environments_are_present(name):
    # environments a team adds (as the README says to) do not fail this: they are checked
    # by the next test, with the shipped ones
    assert name in environments()


@pytest.mark.parametrize("name", sorted(environments()))
def test_every_environment_in_cdk_json_is_valid(name):
    config = load_environment(environments(), name)
    assert config.name == name
    assert config.stack_names[0] == f"slipway-{name}-data"


def test_an_added_environment_is_checked_like_the_shipped_ones(tmp_path):
    # GIVEN cdk.json with an environment added, as the README tells a team to do
    added = {**environments(), "qa": {**environments()["staging"], "account": "444444444444"}}
    # THEN it loads, and the shipped ones still do
    assert load_environment(added, "qa").account == "444444444444"
    for name in SHIPPED:
        assert load_environment(added, name).name == name


def test_default_environment_is_local_and_embedded():
    config = load_environment(environments(), None)
    assert config.name == "local"
    assert config.embedded


def test_unknown_environment_names_the_known_ones():
    known = ", ".join(sorted(environments()))
    with pytest.raises(ConfigError, match=re.escape(f"'qa' is not in cdk.json; known: {known}")):
        load_environment(environments(), "qa")


def test_a_malformed_entry_reports_every_problem_at_once():
    bad = {
        "qa": {
            "account": "12",
            "region": "nowhere",
            "approval": "sometimes",
            "canary": {"share": 2},
            "colour": "blue",
        }
    }
    with pytest.raises(ConfigError) as raised:
        load_environment(bad, "qa")
    message = str(raised.value)
    assert "5 problem(s)" in message
    for fragment in ("account", "region", "approval", "canary.share", "colour: unknown field"):
        assert fragment in message


def test_an_environment_holds_at_most_twenty_endpoints():
    from infra.config import MAX_ENDPOINTS

    # each endpoint's functions, outputs and grants count against Lambda's, IAM's and
    # CloudFormation's limits, which moto does not check
    endpoints = [{"name": "default"}] + [
        {"name": f"e{i}", "models": [f"m{i}"]} for i in range(MAX_ENDPOINTS)
    ]
    entry = {"account": "123456789012", "region": "eu-west-1", "endpoints": endpoints}
    with pytest.raises(ConfigError, match=rf"endpoints: .*at most {MAX_ENDPOINTS}"):
        load_environment({"qa": entry}, "qa")
    entry["endpoints"] = endpoints[:MAX_ENDPOINTS]
    assert len(load_environment({"qa": entry}, "qa").endpoints) == MAX_ENDPOINTS


def test_endpoints_need_a_default_and_unique_names():
    entry = {
        "account": "123456789012",
        "region": "eu-west-1",
        "endpoints": [{"name": "fraud"}, {"name": "fraud"}],
    }
    with pytest.raises(ConfigError) as raised:
        load_environment({"qa": entry}, "qa")
    assert "unique" in str(raised.value) and "'default'" in str(raised.value)


def test_dedicated_endpoints_are_checked_as_a_whole():
    entry = {
        "account": "123456789012",
        "region": "eu-west-1",
        "endpoints": [
            {"name": "default", "models": ["iris"]},
            {
                "name": "fraud",
                "models": ["fraud-score"],
                "reserved_concurrency": 2,
                "provisioned_concurrency": 5,
            },
            {"name": "churn", "models": ["fraud-score"]},
            {"name": "empty"},
        ],
    }
    with pytest.raises(ConfigError) as raised:
        load_environment({"qa": entry}, "qa")
    message = str(raised.value)
    for fragment in (
        "provisioned_concurrency 5 exceeds reserved_concurrency 2",
        "the default endpoint serves every model; list none",
        "model 'fraud-score' is served by both 'fraud' and 'churn'",
        "dedicated endpoint 'empty' lists no models",
    ):
        assert fragment in message


@pytest.mark.parametrize("megabytes", [256, 10241])
def test_ephemeral_storage_outside_lambdas_range_is_refused(megabytes):
    # GIVEN an endpoint asking for /tmp outside 512-10240 MB (the embedded cloud would take it)
    shipped = environments()
    shipped["local"]["endpoints"][0]["ephemeral_storage_mb"] = megabytes
    # WHEN the environment is loaded THEN the field is named
    with pytest.raises(ConfigError, match="ephemeral_storage_mb"):
        load_environment(shipped, "local")


def test_an_exam_is_checked_with_the_environment():
    # GIVEN exams with an unknown metric, a bar without its metric, a bad model name
    entry = {
        **environments()["dev"],
        "exam": {"threshold": 0.9},
        "model_exams": {"Fraud_Score": {"metric": "auc"}, "churn": {"threshold": 0.7}},
    }
    # THEN one error names each problem
    with pytest.raises(ConfigError) as refused:
        load_environment({"dev": entry}, "dev")
    message = str(refused.value)
    assert "model_exams.Fraud_Score.[key]: String should match pattern" in message
    assert "model_exams.Fraud_Score.metric: Input should be 'accuracy'" in message
    entry["model_exams"] = {"churn": {"threshold": 0.7}}
    with pytest.raises(ConfigError) as refused:
        load_environment({"dev": entry}, "dev")
    assert "exam: a threshold needs the metric" in str(refused.value)
    assert "model_exams.churn: a threshold needs the metric" in str(refused.value)


def test_the_shipped_prod_exam_reaches_the_gate_policy():
    from infra.gate_policy import gate_policy

    policy = gate_policy(load_environment(environments(), "prod"))
    fraud = policy.exam_for("fraud-score")
    assert (fraud.metric, fraud.threshold, fraud.champion_margin) == ("f1_macro", 0.9, 0.01)
    other = policy.exam_for("churn")
    assert (other.metric, other.threshold, other.champion_margin) == (None, None, 0.005)


def test_python_bundles_run_only_where_an_endpoint_allows_them():
    from infra.gate_policy import gate_policy

    local = gate_policy(load_environment(environments(), "local"))
    prod = gate_policy(load_environment(environments(), "prod"))
    assert local.endpoint_for("anything").allow_python  # the embedded cloud runs the example
    # dev approves automatically: python runs only on its endpoint for the python example
    dev = gate_policy(load_environment(environments(), "dev"))
    assert dev.endpoint_for("iris-python").allow_python
    assert not dev.endpoint_for("churn").allow_python
    assert not prod.endpoint_for("churn").allow_python
    assert not prod.endpoint_for("fraud-score").allow_python
    entry = {**environments()["prod"]}
    entry["endpoints"] = [{**e, "allow_python": e["name"] == "fraud"} for e in entry["endpoints"]]
    dedicated = gate_policy(load_environment({"prod": entry}, "prod"))
    assert dedicated.endpoint_for("fraud-score").allow_python
    assert not dedicated.endpoint_for("churn").allow_python


def test_separation_of_duties_needs_a_person_to_approve():
    entry = {**environments()["dev"], "separation_of_duties": True, "approval": "auto"}
    with pytest.raises(ConfigError, match="separation_of_duties needs approval 'manual'"):
        load_environment({"dev": entry}, "dev")
    prod = load_environment(environments(), "prod")
    assert prod.separation_of_duties and prod.approval == "manual"


def test_approvers_are_arn_patterns():
    entry = {**environments()["prod"], "approvers": ["arn:aws:sts::*:assumed-role/Approver/*"]}
    assert load_environment({"prod": entry}, "prod").approvers == entry["approvers"]
    entry["approvers"] = ["alice"]
    with pytest.raises(ConfigError, match="approvers"):
        load_environment({"prod": entry}, "prod")


def test_the_waits_of_a_promotion_must_fit_in_the_workflows_timeout():
    from infra.config import WORKFLOW_TIMEOUT_SECONDS, ConfigError, EnvironmentConfig

    base = {"name": "prod", "account": "111111111111", "region": "eu-west-1"}
    # by default the lock wait is what the 8 days leave
    config = EnvironmentConfig.model_validate(base)
    waits = (config.approval_timeout_minutes + config.canary.max_bake_minutes) * 60
    assert 6 * 86400 < config.lock_wait < WORKFLOW_TIMEOUT_SECONDS - waits
    # an approval timeout or a lock wait that would outlast the workflow is refused
    for changes in ({"approval_timeout_minutes": 10 * 1440}, {"lock_wait_seconds": 8 * 86400}):
        with pytest.raises((ConfigError, ValueError), match="add up to more than the workflow"):
            EnvironmentConfig.model_validate({**base, **changes})


def test_the_smoke_tests_cold_and_warm_calls_have_budgets_of_their_own():
    from infra.config import DEFAULT_SMOKE_COLD_BUDGET_MS
    from infra.gate_policy import gate_policy

    # GIVEN an environment that sets neither: the defaults
    dev = gate_policy(load_environment(environments(), "dev"))
    assert (dev.smoke_cold_budget_ms, dev.smoke_warm_budget_ms) == (
        DEFAULT_SMOKE_COLD_BUDGET_MS,
        1000,
    )
    # prod's cold budget allows a container's cold start; its warm one is what prod's answers take
    prod = gate_policy(load_environment(environments(), "prod"))
    assert (prod.smoke_cold_budget_ms, prod.smoke_warm_budget_ms) == (10000, 500)


def test_the_older_single_smoke_budget_is_read_as_the_cold_one():
    from infra.gate_policy import gate_policy

    # GIVEN a cdk.json written before the budgets were split
    entry = {**environments()["prod"], "smoke_test_budget_ms": 4000}
    del entry["smoke_cold_budget_ms"]
    policy = gate_policy(load_environment({"prod": entry}, "prod"))
    # THEN its budget judges the first call (the one it judged then, the cold one)
    assert (policy.smoke_cold_budget_ms, policy.smoke_warm_budget_ms) == (4000, 500)
    # AND both names at once is a mistake, said as such
    with pytest.raises(ConfigError, match="smoke_test_budget_ms is the older name of smoke_cold"):
        load_environment({"prod": {**environments()["prod"], "smoke_test_budget_ms": 4000}}, "prod")


def test_any_endpoint_name_cdk_json_accepts_reaches_the_gate_policy():
    from infra.gate_policy import gate_policy

    # GIVEN a dedicated endpoint whose name is no model name (it ends in a dash)
    entry = {**environments()["prod"]}
    entry["endpoints"] = [*entry["endpoints"], {"name": "batch-", "models": ["nightly"]}]
    policy = gate_policy(load_environment({"prod": entry}, "prod"))
    # THEN the policy names it: SmokeTest picks that endpoint's candidate function by it
    assert policy.endpoint_for("nightly").name == "batch-"
    assert policy.endpoint_for("fraud-score").name == "fraud"
    assert policy.endpoint_for("churn").name == "default"


def test_the_canary_reads_metrics_late_in_aws_and_at_once_in_the_embedded_cloud():
    from infra.config import AWS_METRICS_DELAY_SECONDS, EnvironmentConfig
    from infra.gate_policy import gate_policy

    # GIVEN the shipped environments: the gate policy carries each one's delay
    assert gate_policy(load_environment(environments(), "prod")).canary.metrics_delay_seconds
    assert AWS_METRICS_DELAY_SECONDS >= 60
    assert gate_policy(load_environment(environments(), "local")).canary.metrics_delay_seconds == 0
    # AND a delay set in cdk.json wins over either default
    base = {"name": "qa", "account": "111111111111", "region": "eu-west-1"}
    assert EnvironmentConfig.model_validate(base).metrics_delay_seconds == AWS_METRICS_DELAY_SECONDS
    assert EnvironmentConfig.model_validate({**base, "embedded": True}).metrics_delay_seconds == 0
    tuned = {**base, "canary": {"metrics_delay_seconds": 300}}
    assert gate_policy(EnvironmentConfig.model_validate(tuned)).canary.metrics_delay_seconds == 300
    # AND the delay lengthens the longest bake the workflow's timeout must hold
    config = EnvironmentConfig.model_validate(tuned)
    assert config.longest_bake_seconds == config.canary.max_bake_minutes * 60 + 300


def test_monitoring_settings_are_bounded_and_per_model() -> None:
    from registry.monitoring_settings import MonitoringSettings, parse_settings

    settings = MonitoringSettings.model_validate(
        {"capture_rate": 0.2, "models": {"house": {"capture_rate": 1.0, "exclude": ["owner"]}}}
    )
    assert settings.capture_of("house") == (1.0, frozenset({"owner"}))
    assert settings.capture_of("iris") == (0.2, frozenset())
    assert parse_settings(settings.as_variable()) == settings
    too_many = {f"m{i}": {"exclude": [f"column_{j}" for j in range(50)]} for i in range(5)}
    with pytest.raises(ValueError, match="variable of at most 2048 bytes"):
        MonitoringSettings.model_validate({"models": too_many})
    with pytest.raises(ValueError, match="schedule"):
        MonitoringSettings.model_validate({"schedule": "every hour"})


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ("rate(1 hour)", True),
        ("rate(30 minutes)", True),
        ("rate(1 day)", True),
        ("rate(12 hours)", True),
        ("cron(0 * * * ? *)", True),
        # EventBridge refuses these at deploy time; the embedded cloud would run them
        ("rate(0 minutes)", False),
        ("rate(1 hours)", False),
        ("rate(5 hour)", False),
        ("rate(05 minutes)", False),
    ],
)
def test_the_monitor_schedule_is_one_eventbridge_scheduler_accepts(schedule, valid) -> None:
    from registry.monitoring_settings import MonitoringSettings

    if valid:
        assert MonitoringSettings.model_validate({"schedule": schedule}).schedule == schedule
    else:
        with pytest.raises(ValueError, match="schedule"):
            MonitoringSettings.model_validate({"schedule": schedule})
    with pytest.raises(ValueError, match="capture_rate"):
        MonitoringSettings.model_validate({"capture_rate": 1.5})


# -- the chain: accepts_from and lineage_policy ---------------------------------------------

# a real P-256 public key, base64 DER, as KMS GetPublicKey answers
P256_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4R2ceVstYntwI95Tr9RavSQrWninCvrAFxz/fWZPWNgj3Myfi1t0"
    "MM7799TbcrqrpOIuJ2eyEoN4+rB5juIvcA=="
)


def chained(accepts_from: dict, base: str = "prod", **more) -> dict:
    return {**environments(), base: {**environments()[base], "accepts_from": accepts_from, **more}}


def from_staging(**changes) -> dict:
    return {
        "environment": "staging",
        "account": "333333333333",
        "region": "eu-west-1",
        "public_key": P256_KEY,
        **changes,
    }


def test_the_example_key_is_a_valid_p256_key():
    from registry.attestation import load_public_key

    assert load_public_key(P256_KEY).curve.name == "secp256r1"


def test_an_environment_may_accept_models_only_from_the_one_before_it():
    config = load_environment(
        chained(from_staging(require={"min_live_minutes": 60, "manual_approval": True})), "prod"
    )
    assert config.accepts_from.environment == "staging"
    assert config.accepts_from.require.no_rollback  # the default
    assert config.accepts_from.max_age_hours == 1
    assert load_environment(environments(), "prod").accepts_from is None  # direct uploads


def test_the_chain_reaches_the_gate_policy():
    from infra.gate_policy import gate_policy
    from registry.chain_policy import ChainPolicy
    from registry.lineage_audit import LineagePolicy

    policy = gate_policy(
        load_environment(
            chained(
                from_staging(require={"status": "approved"}), lineage_policy={"clean_commit": True}
            ),
            "prod",
        )
    )
    assert policy.chain == ChainPolicy(
        environment="staging",
        account="333333333333",
        region="eu-west-1",
        public_key=P256_KEY,
        require={"status": "approved"},
    )
    assert policy.lineage_policy.clean_commit and not policy.lineage_policy.durable_datasets
    unchained = gate_policy(load_environment(environments(), "prod"))
    assert unchained.chain is None and unchained.lineage_policy == LineagePolicy()


def test_a_missing_key_is_told_apart_from_a_wrong_one():
    key_less = from_staging()
    del key_less["public_key"]
    with pytest.raises(ConfigError, match=r"accepts_from\.public_key: Field required"):
        load_environment(chained(key_less), "prod")
    with pytest.raises(ConfigError, match="not staging's attestation key: not a DER"):
        load_environment(chained(from_staging(public_key="c2xpcHdheQ==")), "prod")
    with pytest.raises(ConfigError, match="not staging's attestation key: not base64"):
        load_environment(chained(from_staging(public_key="MFkw...")), "prod")


def test_a_key_of_another_curve_is_refused():
    # an RSA public key (SPKI, base64 DER) is a key, but not the ECC_NIST_P256 one we sign with
    import base64

    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="not a P-256"):
        load_environment(chained(from_staging(public_key=base64.b64encode(der).decode())), "prod")


def test_embedded_stands_for_a_key_only_in_embedded_environments():
    with pytest.raises(ConfigError, match="'embedded' is only for embedded environments"):
        load_environment(chained(from_staging(public_key="embedded")), "prod")
    local = chained(
        from_staging(
            environment="local", account="123456789012", region="us-east-1", public_key="embedded"
        ),
        base="rehearsal",
    )
    assert load_environment(local, "rehearsal").accepts_from.public_key == "embedded"


def test_the_chain_is_checked_with_every_other_problem():
    bad = chained(
        from_staging(environment="prod", require={"status": "approved", "min_live_minutes": 5}),
        lineage_policy={"clean_commit": "yes", "signed": True},
    )
    with pytest.raises(ConfigError) as raised:
        load_environment(bad, "prod")
    message = str(raised.value)
    assert "lineage_policy.clean_commit" in message
    assert "lineage_policy.signed: unknown field" in message
    bad["prod"]["lineage_policy"] = {}
    with pytest.raises(ConfigError) as raised:
        load_environment(bad, "prod")
    message = str(raised.value)
    assert "accepts_from.environment names this environment itself" in message
    assert "min_live_minutes needs status 'live'" in message
    with pytest.raises(ConfigError, match=r"accepts_from\.require\.status"):
        load_environment(chained(from_staging(require={"status": "staged"})), "prod")
