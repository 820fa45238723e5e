"""An embedded cloud serving one live model, for bench/serving.py: prints the endpoint's
local URL, then serves until its standard input closes.

    python bench/embedded_endpoint.py BUNDLE

The endpoint function is created directly (no CDK deploy) from the runtime's folders, and
the bundle is registered and made live, as the promotion workflow would leave them.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import httpx  # noqa: E402

from model_runtime.bundle import open_bundle  # noqa: E402
from registry import keys  # noqa: E402
from registry.environment import (  # noqa: E402
    ALLOW_PYTHON,
    POINTER_CACHE_SECONDS,
    SERVING_ROLE,
    TABLE_NAME,
)
from registry.names import upload_key  # noqa: E402
from registry.repository import LineageRepository, UploadedBundle  # noqa: E402
from registry.statuses import ServingRole  # noqa: E402
from slipway.local.cloud import REGION  # noqa: E402
from slipway.local.credentials import SigV4Auth  # noqa: E402
from slipway.local.session import LocalSession  # noqa: E402

BUCKET, TABLE, FUNCTION = "bench-artifacts", "bench-lineage", "bench-endpoint"


def serve_live(session: LocalSession, bundle: Path) -> str:
    """Register ``bundle`` as the live iris and deploy an endpoint; return its local URL."""
    options = {
        "endpoint_url": session.cloud.endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": session.cloud.credentials.access_key_id,
        "aws_secret_access_key": session.cloud.credentials.secret_access_key,
    }
    s3 = boto3.client("s3", **options)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = upload_key("iris", "1")
    version_id = s3.put_object(Bucket=BUCKET, Key=key, Body=bundle.read_bytes())["VersionId"]
    table = boto3.resource("dynamodb", **options).create_table(**keys.create_table_request(TABLE))
    opened = open_bundle(bundle, Path(tempfile.mkdtemp()) / "bundle")
    repository = LineageRepository(table)
    repository.register_version(
        json.loads(opened.manifest.model_dump_json()),
        UploadedBundle(BUCKET, key, version_id, opened.digest, bundle.stat().st_size),
        "bench",
    )
    repository.promote("iris", "1", "bench")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        for folder in ("registry", "model_runtime"):
            for path in (ROOT / folder).rglob("*.py"):
                archive.write(path, path.relative_to(ROOT).as_posix())
    role = boto3.client("iam", **options).create_role(
        RoleName="bench", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lambda_client = boto3.client("lambda", **options)
    lambda_client.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="model_runtime.serving.handler.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=30,
        MemorySize=1024,
        Environment={
            "Variables": {
                TABLE_NAME: TABLE,
                POINTER_CACHE_SECONDS: "5",
                SERVING_ROLE: ServingRole.LIVE,
                ALLOW_PYTHON: "false",
            }
        },
    )
    url = lambda_client.create_function_url_config(FunctionName=FUNCTION, AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    return session.local_url(url if url.endswith("/") else f"{url}/")


def main() -> None:
    with LocalSession() as session:
        url = serve_live(session, Path(sys.argv[1]))
        # the gateway answers only requests signed with this start's key: the URL, then a
        # signed Authorization header for its predict route (the key is what it checks)
        request = httpx.Request("POST", f"{url}/v1/models/iris/predict")
        signed = next(SigV4Auth(session.cloud.credentials).auth_flow(request))
        print(url, flush=True)
        print(signed.headers["Authorization"], flush=True)
        sys.stdin.read()  # until the benchmark closes it (or ends)


if __name__ == "__main__":
    main()
