"""Building the CDK app for one environment; shared by app.py and the tests."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import load_environment
from infra.slipway_stack import SlipwayStack


def build_app(app: cdk.App) -> SlipwayStack:
    """Add the stack for the environment chosen with ``-c env=NAME`` (default: local)."""
    config = load_environment(
        app.node.try_get_context("environments"), app.node.try_get_context("env")
    )
    stack = SlipwayStack(
        app,
        config.stack_name,
        config=config,
        env=cdk.Environment(account=config.account, region=config.region),
        description=f"Slipway MLOps ({config.name})",
    )
    # cdk-nag's AWS Solutions and Serverless packs check every stack of every environment;
    # what Slipway accepts is in infra/nag_suppressions.py with its reason.
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    cdk.Aspects.of(app).add(ServerlessChecks())
    return stack
