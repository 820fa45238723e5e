"""Each runtime function's /tmp is sized in the template and told to its code: Lambda's
default 512 MB cannot hold the bundles an endpoint may serve, and moto does not check the
512-10240 MB range Lambda enforces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.runtime_function import JUDGING_EPHEMERAL_STORAGE_MB
from registry.environment import EPHEMERAL_STORAGE_MB
from registry.workflow import PROMOTION, Package

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def functions(template_json: dict) -> list[dict]:
    return [
        r["Properties"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_endpoint_gets_the_storage_cdk_json_gives_it(synthesized, env):
    # GIVEN the endpoints cdk.json declares for the environment
    declared = {
        e["name"]: e["ephemeral_storage_mb"] for e in CONTEXT["environments"][env]["endpoints"]
    }
    # WHEN the environment is synthesized
    found = [
        (p["Description"].split("'")[1], p)
        for p in functions(synthesized(env).template_json)
        if str(p.get("Description", "")).startswith("Slipway model endpoint")
    ]
    # THEN each endpoint, and the candidate function built like it, has that /tmp, within
    # Lambda's range, and its code is told the size
    assert sorted(name for name, _ in found) == sorted([*declared, *declared])
    for name, properties in found:
        size = properties["EphemeralStorage"]["Size"]
        assert size == declared[name] and 512 <= size <= 10240, name
        assert properties["Environment"]["Variables"][EPHEMERAL_STORAGE_MB] == str(size), name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_workflows_model_steps_can_hold_whatever_an_endpoint_can(synthesized, env):
    # GIVEN the workflow's steps that run in the runtime image (they open bundles)
    runtime_steps = {t.state for t in PROMOTION.tasks() if t.package == Package.RUNTIME}
    largest_endpoint = max(
        e["ephemeral_storage_mb"] for e in CONTEXT["environments"][env]["endpoints"]
    )
    # WHEN the environment is synthesized
    found = {
        p["Description"].split(" step:")[0]: p
        for p in functions(synthesized(env).template_json)
        if " step:" in p.get("Description", "")
    }
    # THEN each has the most /tmp Lambda allows, no less than any endpoint, and knows it
    assert runtime_steps and runtime_steps <= set(found)
    for state in runtime_steps:
        properties = found[state]
        size = properties["EphemeralStorage"]["Size"]
        assert size == JUDGING_EPHEMERAL_STORAGE_MB <= 10240, state
        assert size >= largest_endpoint, state
        assert properties["Environment"]["Variables"][EPHEMERAL_STORAGE_MB] == str(size), state
