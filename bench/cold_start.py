"""One cold start, run as a fresh process by bench/serving.py: import to first answer.

python bench/cold_start.py slipway BUNDLE      # the Lambda handler, first request
python bench/cold_start.py bare BUNDLE         # the bare minimum: libraries, load, predict

Both answer the bundle's first input example: a row of numbers for an array model, one
record as a one-row DataFrame for a model fitted on a DataFrame.
"""

import json
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manifest_of(bundle: Path) -> dict:
    with tarfile.open(bundle) as tar:
        return json.load(tar.extractfile("manifest.json"))


def slipway(bundle: Path) -> list:
    sys.path.insert(0, str(ROOT))
    from model_runtime.serving import handler as module
    from model_runtime.serving.function_url import function_url_event
    from model_runtime.single_bundle_store import SingleBundleStore

    store = SingleBundleStore(bundle, Path(tempfile.mkdtemp()))
    module.app.state.model_store = store

    class Context:
        function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1024
        invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:1:function:bench", "r"

    first = manifest_of(bundle)["input_example"]["inputs"][0]
    event = function_url_event(
        method="POST",
        raw_path=f"/v1/models/{store.manifest.name}/predict",
        raw_query="",
        headers={"content-type": "application/json"},
        body=json.dumps({"inputs": [first]}).encode(),
        url_id="bench",
        region="us-east-1",
        account_id="1",
    )
    return json.loads(module.handler(event, Context())["body"])["outputs"]


def bare(bundle: Path) -> list:
    import skops.io as sio

    manifest = manifest_of(bundle)
    first = manifest["input_example"]["inputs"][0]
    work = Path(tempfile.mkdtemp())
    with tarfile.open(bundle) as tar:
        tar.extract("model.skops", work, filter="data")
    estimator = sio.load(
        work / "model.skops", trusted=sio.get_untrusted_types(file=work / "model.skops")
    )
    if manifest["signature"].get("model_input") == "dataframe":
        import pandas as pd

        features = pd.DataFrame([first])
    else:
        import numpy as np

        values = list(first.values()) if isinstance(first, dict) else first
        features = np.asarray([values])
    return estimator.predict(features).tolist()


if __name__ == "__main__":
    print({"slipway": slipway, "bare": bare}[sys.argv[1]](Path(sys.argv[2])))
