"""Workflow step Evaluate: the candidate's declared metric, against its threshold and live.

The live model is scored on the same rows (champion/challenger); the environment's gate
policy sets how much better a challenger must be.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from model_runtime.evaluation import evaluate, require_passing
from model_runtime.exceptions import EvaluationFailedError, ModelNotFoundError
from model_runtime.jobs.candidate import fetch_bundle, model_to_judge
from model_runtime.manifest import Evaluation, Signature
from model_runtime.model import LoadedModel
from model_runtime.model_store import ModelSource, ModelStore
from model_runtime.sandboxed_model import (
    DeployedSandbox,
    Sandbox,
    sandboxed_model,
)
from registry import aws
from registry.exam import stricter_bar
from registry.repository import UploadedBundle
from registry.statuses import ServingRole, Stage
from registry.workflow_state import EvaluationOutcome, Exam, PromotionState


def live_model(
    store: ModelSource, sandbox: Sandbox, s3: Any, name: str, candidate_version: str
) -> LoadedModel | None:
    """The champion: the version the live pointer names (a python-flavor one runs in the
    sandbox, as the candidate does)."""
    try:
        version = str(store.pointer(name, Stage.LIVE)["version"])
    except ModelNotFoundError:
        return None
    if version == candidate_version:
        return None
    item = store.version_item(name, version)
    if item.get("flavor") == "python":
        signature = Signature.model_validate(item["signature"])
        return sandboxed_model(
            sandbox, s3, UploadedBundle(**item["bundle"]), name, version, signature
        )
    return store.model(name, version=version)


def evaluate_upload(
    s3: Any, store: ModelSource, state: PromotionState, sandbox: Sandbox
) -> EvaluationOutcome:
    validated = state.require_validated()
    with tempfile.TemporaryDirectory(prefix="slipway-evaluate-") as work:
        bundle, size = fetch_bundle(
            s3,
            state.bucket,
            state.key,
            state.version_id,
            Path(work),
            expected_digest=validated.digest,
        )
        declared = bundle.manifest.evaluation
        if declared is None:
            raise EvaluationFailedError(
                "the bundle declares no evaluation; the promotion gate needs a metric, a "
                "threshold and a labelled dataset in manifest.json 'evaluation'"
            )
        exam = state.policy.exam_for(bundle.manifest.name)
        spec = environment_exam(bundle.manifest.name, declared, exam)
        where = UploadedBundle(state.bucket, state.key, state.version_id, bundle.digest, size)
        candidate = model_to_judge(bundle, where, sandbox, s3)
        live = live_model(store, sandbox, s3, bundle.manifest.name, bundle.manifest.version)
        margin = exam.champion_margin or 0.0  # exam_for always sets it
        result = evaluate(spec, bundle.root / spec.dataset, candidate, live, margin)
    require_passing(result, state.policy.champion_not_comparable)
    return EvaluationOutcome.parse(result.as_dict())


def environment_exam(model: str, declared: Evaluation, exam: Exam) -> Evaluation:
    """The evaluation the gate runs: the environment's metric, and the stricter of the
    environment's bar and the manifest's."""
    if exam.metric is not None and declared.metric != exam.metric:
        raise EvaluationFailedError(
            f"this environment judges {model} by {exam.metric}; the bundle declares "
            f"{declared.metric}: package it with metric={exam.metric!r}"
        )
    threshold = stricter_bar(declared.metric, declared.threshold, exam.threshold)
    return declared.model_copy(update={"threshold": threshold})


@cache
def judging_store() -> ModelStore:
    """The store the judge reads the champion from: the live pointer as it is at this
    moment (an endpoint may trust a pointer for seconds; a promotion that just went live must
    be the one a candidate is compared with)."""
    from model_runtime.serving.settings import get_bundle_cache_settings

    settings = get_bundle_cache_settings()
    return ModelStore(
        aws.lineage_repository(),
        aws.client("s3"),
        settings.bundle_cache_dir,
        pointer_ttl_seconds=0,
        model_cache_bytes=settings.model_cache_bytes,
        role=ServingRole.LIVE,  # the champion is what live traffic gets
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluate_upload(
        aws.client("s3"), judging_store(), PromotionState.parse(event), DeployedSandbox()
    ).dump()
