"""One cold start, run as a fresh process by bench/serving.py: import to first answer.

python bench/cold_start.py slipway BUNDLE      # the Lambda handler, first request
python bench/cold_start.py bare BUNDLE         # the bare minimum: libraries, load, predict
"""

import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = [5.1, 3.5, 1.4, 0.2]


def slipway(bundle: Path) -> list:
    sys.path.insert(0, str(ROOT))
    import json

    from model_runtime.serving import handler as module
    from model_runtime.serving.function_url import function_url_event
    from model_runtime.single_bundle_store import SingleBundleStore

    store = SingleBundleStore(bundle, Path(tempfile.mkdtemp()))
    module.app.state.model_store = store

    class Context:
        function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1024
        invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:1:function:bench", "r"

    event = function_url_event(
        method="POST",
        raw_path=f"/v1/models/{store.manifest.name}/predict",
        raw_query="",
        headers={"content-type": "application/json"},
        body=json.dumps({"inputs": [ROW]}).encode(),
        url_id="bench",
        region="us-east-1",
        account_id="1",
    )
    return json.loads(module.handler(event, Context())["body"])["outputs"]


def bare(bundle: Path) -> list:
    import numpy as np
    import skops.io as sio

    work = Path(tempfile.mkdtemp())
    with tarfile.open(bundle) as tar:
        tar.extract("model.skops", work, filter="data")
    estimator = sio.load(
        work / "model.skops", trusted=sio.get_untrusted_types(file=work / "model.skops")
    )
    return estimator.predict(np.asarray([ROW])).tolist()


if __name__ == "__main__":
    print({"slipway": slipway, "bare": bare}[sys.argv[1]](Path(sys.argv[2])))
