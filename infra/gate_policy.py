"""The environment's gate policy, as the state machine's first state writes it into every
execution: built from the typed config alone, so it is tested without synthesizing."""

from __future__ import annotations

from infra.config import WORKFLOW_TIMEOUT_SECONDS, EndpointConfig, EnvironmentConfig
from registry.chain_policy import ChainPolicy
from registry.workflow_state import CanaryPolicy, Exam, GatePolicy, ServingEndpoint


def serving_endpoint(endpoint: EndpointConfig) -> ServingEndpoint:
    return ServingEndpoint(
        name=endpoint.name,
        allow_python=endpoint.allow_python,
        ephemeral_storage_mb=endpoint.ephemeral_storage_mb,
    )


def gate_policy(config: EnvironmentConfig) -> GatePolicy:
    return GatePolicy(
        approval=config.approval,
        separation_of_duties=config.separation_of_duties,
        champion_margin=config.champion_margin,
        champion_not_comparable=config.champion_not_comparable,
        exam=Exam.parse(config.exam.model_dump()),
        model_exams={
            name: Exam.parse(exam.model_dump()) for name, exam in config.model_exams.items()
        },
        default_endpoint=next(serving_endpoint(e) for e in config.endpoints if e.name == "default"),
        dedicated_endpoints={
            model: serving_endpoint(endpoint)
            for endpoint in config.endpoints
            for model in endpoint.models
        },
        smoke_cold_budget_ms=config.smoke_cold_budget,
        smoke_warm_budget_ms=config.smoke_warm_budget_ms,
        pointer_cache_seconds=config.pointer_cache_seconds,
        # a lock lives as long as the execution holding it may
        lock_ttl_seconds=WORKFLOW_TIMEOUT_SECONDS,
        lock_policy=config.lock_policy,
        canary=CanaryPolicy(
            share=config.canary.share,
            bake_seconds=config.canary.bake_minutes * 60,
            min_requests=config.canary.min_requests,
            max_bake_seconds=config.canary.max_bake_minutes * 60,
            max_error_rate=config.canary.max_error_rate,
            max_schema_rejection_rate=config.canary.max_schema_rejection_rate,
            max_p99_ms=config.canary.max_p99_ms,
            metrics_delay_seconds=config.metrics_delay_seconds,
        ),
        chain=chain_policy(config),
        lineage_policy=config.lineage_policy,
    )


def chain_policy(config: EnvironmentConfig) -> ChainPolicy | None:
    chain = config.accepts_from
    return None if chain is None else ChainPolicy.model_validate(chain.model_dump())
