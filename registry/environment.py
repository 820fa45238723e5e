"""Environment variables: infra sets them on each function, the function's code reads them.

The names are written here once; ``infra`` gives each function exactly the variables its
step declares (``registry.workflow``), and code reads them through :func:`required`, which
has no fallback: a default belongs to the environment's config (``infra/config.py``), so a
missing variable is a deployment error, reported by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from registry.exceptions import MissingSettingError

TABLE_NAME = "SLIPWAY_TABLE_NAME"
STATE_MACHINE_ARN = "SLIPWAY_STATE_MACHINE_ARN"
POINTER_CACHE_SECONDS = "SLIPWAY_POINTER_CACHE_SECONDS"
APPROVAL_TOPIC_ARN = "SLIPWAY_APPROVAL_TOPIC_ARN"
APPROVAL_TOKEN_KEY = "SLIPWAY_APPROVAL_TOKEN_KEY"
APPROVERS = "SLIPWAY_APPROVERS"  # a JSON list of ARN patterns (registry/approvers.py)
# Each endpoint's candidate function, which SmokeTest invokes (registry/candidate_functions.py).
CANDIDATE_FUNCTIONS = "SLIPWAY_CANDIDATE_FUNCTIONS"
# The function that runs python-flavor bundles' own code for Validate and Evaluate.
SANDBOX_FUNCTION = "SLIPWAY_SANDBOX_FUNCTION"
# Where the sandbox runs requests: infra sets /tmp in AWS (emptied around each request).
SANDBOX_SCRATCH = "SLIPWAY_SANDBOX_SCRATCH"
SERVED_MODELS = "SLIPWAY_SERVED_MODELS"
# The environment's name (cdk.json): the endpoint and candidate functions write it into their
# per-version metrics as a dimension (registry.metrics), and CheckCanary reads by it, so
# environments sharing an account and region never count each other's requests.
ENVIRONMENT_NAME = "SLIPWAY_ENVIRONMENT"
SERVING_ROLE = "SLIPWAY_SERVING_ROLE"
ALLOW_PYTHON = "SLIPWAY_ALLOW_PYTHON"
TRUSTED_MODEL_TYPES = "SLIPWAY_TRUSTED_MODEL_TYPES"
# A runtime function's /tmp in MB, as infra sized it: model_runtime.serving.settings derives
# the bundle cache's disk budget and the extraction cap from it.
EPHEMERAL_STORAGE_MB = "SLIPWAY_EPHEMERAL_STORAGE_MB"
# The artifact bucket, for the monitor job (captured requests, feedback, reports).
ARTIFACT_BUCKET = "SLIPWAY_ARTIFACT_BUCKET"
# The environment's asymmetric KMS key (ARN) that signs attestations (registry/attesting.py).
ATTESTATION_KEY = "SLIPWAY_ATTESTATION_KEY"
# The environment's cdk.json accepts_from as a ChainPolicy's JSON ("null": it takes direct
# uploads): the registry API judges a declaration's attestation with it (registry/uploads.py).
CHAIN_POLICY = "SLIPWAY_CHAIN_POLICY"
# The environment's cdk.json separation_of_duties as JSON (true/false): the registry API
# tells callers (GET /v1/identity) whether an uploader may approve their own version.
SEPARATION_OF_DUTIES = "SLIPWAY_SEPARATION_OF_DUTIES"
# Set by Lambda itself in every function (a reserved variable), and by the embedded cloud.
LAMBDA_REGION = "AWS_REGION"


def required(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """The variable's value; a clear error naming it when the deployment did not set it."""
    value = environ.get(name)
    if value is None:
        raise MissingSettingError(
            f"{name} is not set: this function was deployed without a setting its code needs"
        )
    return value
