"""One sandboxed request, in a process of its own: open the bundle, load it, predict.

Run by ``model_runtime.jobs.sandbox`` as ``python -P -s -m model_runtime.jobs.sandbox_child
WORK FD`` with the fetched archive and the request in WORK; writes its answer to the pipe FD.
Whatever the bundle's code does here ends with this process and its folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from model_runtime.bundle import open_bundle
from model_runtime.model import load_model
from model_runtime.model_input import ModelInput
from model_runtime.serving.settings import get_storage_settings


def answer(work: Path) -> dict[str, Any]:
    request = json.loads((work / "request.json").read_text())
    stage = "opening the bundle"
    try:
        bundle = open_bundle(
            work / "bundle.tar.gz",
            work / "bundle",
            expected_digest=request["digest"],
            limits=get_storage_settings().extraction_limits(),
        )
        stage = "loading the model"
        model = load_model(bundle)
        stage = "predicting"
        rows = ModelInput.from_request(bundle.manifest.signature, request["rows"])
        return {"outputs": model.predict_checked(rows)}
    except Exception as exc:
        return {"error": {"type": type(exc).__name__, "message": f"{stage}: {exc}"[:2000]}}


def main(work: Path, answer_fd: int) -> None:
    result = answer(work)
    try:
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        encoded = json.dumps(
            {"error": {"type": "ModelOutputError", "message": f"outputs are not JSON: {exc}"}}
        )
    with os.fdopen(answer_fd, "w") as pipe:
        pipe.write(encoded)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
