"""A cold start pays only for what its first request needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# botocore's bare package is imported by Powertools (its user agent) and costs under 1 ms;
# its session and clients are what is heavy.
HEAVY = ("sklearn", "skops", "onnxruntime", "scipy", "boto3", "botocore.session")


def test_importing_the_handler_loads_no_model_library_and_no_aws_sdk():
    """Model libraries load with the first model of their flavor; boto3 with the first
    registry read. Importing them at module level would tax every cold start."""
    probe = (
        "import json, sys; import model_runtime.serving.handler; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
