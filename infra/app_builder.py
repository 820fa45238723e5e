"""Building the CDK app for one environment; shared by app.py and the tests."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import Stack
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import DEFAULT_ENVIRONMENT, EnvironmentConfig, load_environment
from infra.embedded_chain import EMBEDDED_KEY_CONTEXT, with_embedded_key
from infra.nag_suppressions import apply_nag_suppressions
from infra.observability_defaults import Observability
from infra.stacks.data import DataStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.serving import ServingStack
from infra.stacks.workflow import WorkflowStack


@dataclass(frozen=True)
class SlipwayEnvironment:
    """The four stacks of one environment, in deployment order."""

    config: EnvironmentConfig
    data: DataStack
    serving: ServingStack
    workflow: WorkflowStack
    monitoring: MonitoringStack

    @property
    def stacks(self) -> list[Stack]:
        return [self.data, self.serving, self.workflow, self.monitoring]


def build_app(app: cdk.App) -> SlipwayEnvironment:
    """Add the stacks for the environment chosen with ``-c env=NAME`` (default: local)."""
    name = app.node.try_get_context("env")
    environments = with_embedded_key(
        app.node.try_get_context("environments"),
        name or DEFAULT_ENVIRONMENT,
        app.node.try_get_context(EMBEDDED_KEY_CONTEXT),
    )
    config = load_environment(environments, name)
    environment = build_environment(app, config)
    # cdk-nag's AWS Solutions and Serverless packs check every stack of every environment;
    # what Slipway accepts is in infra/nag_suppressions.py with its reason.
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    cdk.Aspects.of(app).add(ServerlessChecks())
    return environment


def build_environment(app: cdk.App, config: EnvironmentConfig) -> SlipwayEnvironment:
    common = {
        "env": cdk.Environment(account=config.account, region=config.region),
        # stacks of an environment that keeps its data cannot be deleted by accident either
        "termination_protection": config.retain_data,
    }
    observability = Observability(config.log_retention_days, retain_logs=config.retain_data)
    prefix = config.stack_name
    data = DataStack(
        app,
        f"{prefix}-data",
        config=config,
        description=f"Slipway {config.name}: artifacts and lineage",
        **common,
    )
    bucket, table = data.artifact_store.bucket, data.lineage_table.table
    serving = ServingStack(
        app,
        f"{prefix}-serving",
        config=config,
        bucket=bucket,
        table=table,
        observability=observability,
        description=f"Slipway {config.name}: model endpoints",
        **common,
    )
    workflow = WorkflowStack(
        app,
        f"{prefix}-workflow",
        config=config,
        bucket=bucket,
        table=table,
        candidate_functions={
            name: candidate.function for name, candidate in serving.candidate_endpoints.items()
        },
        observability=observability,
        endpoints=serving.url_targets,
        description=f"Slipway {config.name}: ingest, promotion workflow, registry API",
        **common,
    )
    monitoring = MonitoringStack(
        app,
        f"{prefix}-monitoring",
        config=config,
        serving=serving,
        workflow=workflow,
        bucket=bucket,
        table=table,
        observability=observability,
        description=f"Slipway {config.name}: monitor job, alarms and dashboard",
        **common,
    )
    environment = SlipwayEnvironment(config, data, serving, workflow, monitoring)
    for stack in environment.stacks:
        apply_nag_suppressions(stack)
    return environment
