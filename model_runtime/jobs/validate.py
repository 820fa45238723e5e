"""Workflow step Validate: is the uploaded object a safe, complete, loadable bundle?

Runs in the runtime image so a model is judged by exactly the code that will serve it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from model_runtime.bundle import check_upload_matches_manifest, parse_upload_key
from model_runtime.exceptions import PythonFlavorNotAllowedError
from model_runtime.jobs.candidate import fetch_bundle, model_to_judge
from model_runtime.manifest import Manifest
from model_runtime.model import check_input_example
from model_runtime.monitoring.baseline import baseline_summary, bundle_baseline
from model_runtime.sandboxed_model import DeployedSandbox, Sandbox
from model_runtime.serving.settings import StorageSettings
from registry import aws
from registry.repository import LineageRepository, UploadedBundle
from registry.uploads import attributed_uploader
from registry.workflow_state import PromotionState, Validated


def refuse_python_where_not_allowed(manifest: Manifest, state: PromotionState) -> None:
    if manifest.flavor == "python" and not state.policy.endpoint_for(manifest.name).allow_python:
        raise PythonFlavorNotAllowedError(
            f"{manifest.name} is a python-flavor bundle, whose own code would run in its "
            "endpoint's process; the endpoint that serves it does not allow that: give the "
            "model an endpoint with allow_python in cdk.json, or package another flavor"
        )


def validate_upload(
    s3: Any, repository: LineageRepository, state: PromotionState, sandbox: Sandbox
) -> Validated:
    """Download the exact object version, verify it, read its monitoring baseline if it has
    one, load it and replay its input example (a python-flavor bundle's code runs in the
    ``sandbox``, not here); keep the checked manifest and the baseline's summary in the
    registry for Register (the state carries its digest)."""
    name, _ = parse_upload_key(state.key)
    endpoint = state.policy.endpoint_for(name)
    with tempfile.TemporaryDirectory(prefix="slipway-validate-") as work:
        bundle, size = fetch_bundle(
            s3,
            state.bucket,
            state.key,
            state.version_id,
            Path(work),
            # a bundle its endpoint could not hold fails here, not at the smoke test
            serving_storage=StorageSettings(ephemeral_storage_mb=endpoint.ephemeral_storage_mb),
        )
        check_upload_matches_manifest(state.key, bundle.manifest)
        uploaded_by = attributed_uploader(
            repository.upload_declaration(name, bundle.manifest.version),
            name,
            bundle.manifest.version,
            bundle.digest,
            required=state.policy.separation_of_duties,
        )
        # before anything loads it: refused code never runs, not even here
        refuse_python_where_not_allowed(bundle.manifest, state)
        where = UploadedBundle(state.bucket, state.key, state.version_id, bundle.digest, size)
        # the monitoring baseline, before the model loads: a malformed one rejects the bundle
        baseline = bundle_baseline(bundle.root, bundle.manifest)
        check_input_example(model_to_judge(bundle, where, sandbox, s3), bundle)
        repository.put_validated_manifest(
            json.loads(bundle.manifest.model_dump_json()),
            bundle.digest,
            state.execution_name,
            state.policy.lock_ttl_seconds,  # as long as the execution may run
            baseline=baseline_summary(baseline, bundle.manifest) if baseline else None,
        )
        return Validated(
            name=bundle.manifest.name,
            version=bundle.manifest.version,
            digest=bundle.digest,
            size=size,
            uploaded_by=uploaded_by,
        )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return validate_upload(
        aws.client("s3"), aws.lineage_repository(), PromotionState.parse(event), DeployedSandbox()
    ).dump()
