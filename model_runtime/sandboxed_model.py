"""A python-flavor model the gate judges without running its code in the gate's process.

The rows go to the python sandbox (``model_runtime/jobs/sandbox.py``) in batches that fit a
synchronous Lambda payload, with a presigned URL of the exact object version; what comes
back is checked here, one JSON value per row, and scored by the caller like any model's
predictions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from model_runtime.exceptions import ModelLoadError, SandboxFailedError
from model_runtime.manifest import Signature
from model_runtime.model import LoadedModel
from model_runtime.model_input import ModelInput
from registry.environment import SANDBOX_FUNCTION, required
from registry.repository import UploadedBundle
from registry.s3_versions import version_args
from registry.strict_json import StrictJsonError, load_strict_json
from registry.workflow import SANDBOX_TIMEOUT_SECONDS

# Rows per sandbox request, in JSON bytes: Lambda's synchronous payload is 6 MB, and the
# request also carries the presigned URL.
BATCH_BYTES = 4 * 1024 * 1024
URL_SECONDS = 900  # a presigned URL outlives the request it is made for, not much more


class Sandbox(Protocol):
    def run(self, request: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class LambdaSandbox:
    """The sandbox function, invoked synchronously."""

    lambda_client: Any
    function: str

    def run(self, request: dict[str, Any]) -> Any:
        answer = self.lambda_client.invoke(
            FunctionName=self.function, Payload=json.dumps(request).encode()
        )
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise SandboxFailedError(f"the python sandbox failed: {payload[:500]!r}")
        try:
            return load_strict_json(payload)
        except StrictJsonError as exc:
            raise SandboxFailedError(f"the python sandbox answered no JSON: {exc}") from None


@dataclass(frozen=True)
class DeployedSandbox:
    """The sandbox function this step was deployed with, found when first needed (only
    python-flavor bundles need it)."""

    def run(self, request: dict[str, Any]) -> Any:
        return LambdaSandbox(sandbox_client(), required(SANDBOX_FUNCTION)).run(request)


@cache
def sandbox_client() -> Any:
    """A Lambda client that waits as long as the sandbox may run."""
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", config=Config(read_timeout=SANDBOX_TIMEOUT_SECONDS + 15))


def sandboxed_model(
    sandbox: Sandbox, s3: Any, bundle: UploadedBundle, name: str, version: str, signature: Signature
) -> LoadedModel:
    """A model whose predictions come from the sandbox."""
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bundle.bucket, "Key": bundle.key, **version_args(bundle.s3_version_id)},
        ExpiresIn=URL_SECONDS,
    )
    reference = {"url": url, "digest": bundle.digest, "size": bundle.size}
    who = f"{name} {version}"

    def predict(model_input: ModelInput) -> list[Any]:
        outputs: list[Any] = []
        for batch in batches(model_input.rows):
            outputs.extend(predicted(sandbox, reference, who, batch))
        return outputs

    return LoadedModel(
        name=name, version=version, digest=bundle.digest, signature=signature, _predict=predict
    )


def batches(rows: list[list[Any]], limit: int = BATCH_BYTES) -> list[list[list[Any]]]:
    """Consecutive rows, each batch at most ``limit`` bytes of JSON (a larger row alone)."""
    if not rows:
        return []
    out: list[list[list[Any]]] = [[]]
    size = 0
    for row in rows:
        row_bytes = len(json.dumps(row)) + 2  # and the ", " between rows
        if out[-1] and size + row_bytes > limit:
            out.append([])
            size = 0
        out[-1].append(row)
        size += row_bytes
    return out


def predicted(
    sandbox: Sandbox, reference: dict[str, Any], who: str, rows: list[list[Any]]
) -> list[Any]:
    """The sandbox's outputs for ``rows``; a batch whose answer is too large for a Lambda
    response is asked for again in halves."""
    envelope = sandbox.run({"bundle": reference, "rows": rows})
    refused = envelope.get("refused") if isinstance(envelope, dict) else None
    if isinstance(refused, dict) and refused.get("type") == "AnswerTooLarge" and len(rows) > 1:
        half = len(rows) // 2
        first = predicted(sandbox, reference, who, rows[:half])
        return first + predicted(sandbox, reference, who, rows[half:])
    return checked_outputs(who, envelope, len(rows))


def checked_outputs(who: str, envelope: Any, rows: int) -> list[Any]:
    """One output per row, or the failure named: the bundle's code's, or the sandbox's."""
    if isinstance(envelope, dict) and isinstance(envelope.get("refused"), dict):
        refused = envelope["refused"]
        kind, message = str(refused.get("type"))[:100], str(refused.get("message"))[:2000]
        if refused.get("by_bundle") is True:
            raise ModelLoadError(f"{who}'s own code failed in the python sandbox: {message}")
        raise SandboxFailedError(f"the python sandbox could not judge {who}: {kind}: {message}")
    answer = envelope.get("answer") if isinstance(envelope, dict) else None
    # what follows is what the bundle's code answered: anything at all
    if isinstance(answer, dict) and set(answer) == {"error"} and isinstance(answer["error"], dict):
        error = answer["error"]
        kind, message = str(error.get("type", "Error"))[:100], str(error.get("message", ""))
        raise ModelLoadError(
            f"{who}'s own code failed in the python sandbox: {kind}: {message[:2000]}"
        )
    if not (isinstance(answer, dict) and set(answer) == {"outputs"}):
        raise ModelLoadError(f"{who}'s code answered something else than its outputs")
    outputs = answer["outputs"]
    if not isinstance(outputs, list) or len(outputs) != rows:
        count = len(outputs) if isinstance(outputs, list) else "no list of"
        raise ModelLoadError(f"{who} answered {count} outputs for {rows} rows")
    return outputs
