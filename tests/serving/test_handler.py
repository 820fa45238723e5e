"""The serving app through Mangum, fed real Function URL and API Gateway v2 events."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json

import boto3
import pytest
from moto import mock_aws

from model_runtime.extraction import sha256_file
from model_runtime.model_store import ModelStore
from model_runtime.serving.handler import app, handler
from registry.environment import ENVIRONMENT_NAME
from registry.repository import LineageRepository, UploadedBundle
from registry.statuses import ServingRole
from tests.conftest import create_lineage_table, load_event


@pytest.fixture
def live_iris(iris_bundle, tmp_path, monkeypatch):
    """moto S3 and DynamoDB holding the iris bundle, registered and promoted to live, and
    the environment infra deployed the endpoint into."""
    monkeypatch.setenv(ENVIRONMENT_NAME, "rehearsal")
    path, manifest = iris_bundle
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
        key = "models/iris/1/bundle.tar.gz"
        version_id = s3.put_object(Bucket="artifacts", Key=key, Body=path.read_bytes())["VersionId"]
        table = create_lineage_table()
        repository = LineageRepository(table)
        uploaded = UploadedBundle(
            "artifacts", key, version_id, sha256_file(path), path.stat().st_size
        )
        repository.register_version(json.loads(manifest.model_dump_json()), uploaded, "exec-1")
        repository.promote("iris", "1", "exec-1")
        store = ModelStore(
            repository,
            s3,
            tmp_path / "cache",
            pointer_ttl_seconds=0,
            model_cache_bytes=10**9,
            role=ServingRole.CANDIDATE,
        )
        app.state.model_store = store
        yield manifest
        app.state.model_store = None


@dataclasses.dataclass
class LambdaContext:
    """The context attributes Lambda passes (Powertools reads them for structured logs)."""

    function_name: str = "slipway-endpoint-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:slipway-endpoint-test"
    )
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "6f9b0c1e-test-request"
    log_group_name: str = "/aws/lambda/slipway-endpoint-test"
    log_stream_name: str = "2026/11/28/[$LATEST]test"


def call(event: dict) -> tuple[int, dict, dict]:
    response = handler(event, LambdaContext())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], response["headers"], json.loads(body)


def function_url_event(path: str, body: str | None, query: str = "", method: str = "POST"):
    event = copy.deepcopy(load_event("function_url_predict.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    if body is None:
        event.pop("body")
    else:
        event["body"] = body
    return event


def test_function_url_predict_answers_with_the_models_own_prediction(live_iris):
    # GIVEN the live iris model and a signed Function URL request for its input example
    example = live_iris.input_example
    event = function_url_event("/v1/models/iris/predict", json.dumps({"inputs": example.inputs}))
    # WHEN Lambda hands the event to the handler
    status, headers, body = call(event)
    # THEN the answer is the model's prediction, with the version that made it
    assert status == 200
    assert body == {
        "model": "iris",
        "version": "1",
        "outputs": example.expected_output,
        "request_id": "6f9b0c1e-test-request",  # Lambda's, which the capture line names too
    }
    assert headers["x-model-version"] == "1"
    assert headers["x-request-id"] == "6f9b0c1e-test-request"


def test_api_gateway_v2_records_keyed_by_feature(live_iris):
    status, _, body = call(load_event("apigw_v2_predict.json"))
    assert status == 200
    assert body["outputs"] == [2]  # a large-petalled flower is Iris virginica


def test_a_base64_body_of_another_content_type_is_read_as_json(live_iris):
    """Function URLs base64-encode bodies whose content type is not text, as curl's
    --data-binary with an octet-stream type produces."""
    event = function_url_event("/v1/models/iris/predict", None)
    event["headers"]["content-type"] = "application/octet-stream"
    event["body"] = base64.b64encode(b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}').decode()
    event["isBase64Encoded"] = True
    status, _, answer = call(event)
    assert (status, answer["outputs"]) == (200, [0])


def test_exact_version_route(live_iris):
    event = function_url_event(
        "/v1/models/iris/versions/1/predict", json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]})
    )
    status, _, body = call(event)
    assert (status, body["outputs"]) == (200, [0])


def test_describe_model(live_iris):
    status, _, body = call(function_url_event("/v1/models/iris", None, method="GET"))
    assert status == 200
    assert body["version"] == "1"
    assert [f["name"] for f in body["signature"]["inputs"]][:2] == ["sepal_length", "sepal_width"]


@pytest.mark.parametrize(
    ("path", "body", "query", "status", "detail"),
    [
        (
            "/v1/models/unknown/predict",
            '{"inputs": [[1, 2, 3, 4]]}',
            "",
            404,
            "model 'unknown' has no live version",
        ),
        (
            "/v1/models/iris/predict",
            '{"inputs": [[1, 2, 3, 4]]}',
            "stage=staging",
            404,
            "has no staging version",
        ),
        (
            "/v1/models/iris/versions/9/predict",
            '{"inputs": [[1, 2, 3, 4]]}',
            "",
            404,
            "has no version '9'",
        ),
        ("/v1/models/iris/predict", '{"inputs": [[1, 2]]}', "", 422, "has 2 values"),
        (
            "/v1/models/iris/predict",
            '{"inputs": [["x", 2, 3, 4]]}',
            "",
            422,
            "inputs[0].sepal_length: expected a number, received a string ('x')",
        ),
        ("/v1/models/iris/predict", '{"inputs": [{"petal": 1}]}', "", 422, "missing columns"),
        # NaN is not JSON (Python writes it, JSON has no such value): refused as it is read
        ("/v1/models/iris/predict", '{"inputs": [[NaN, 2, 3, 4]]}', "", 400, "NaN is not a JSON"),
        ("/v1/models/iris/predict", '{"inputs": [[1e999, 2, 3, 4]]}', "", 422, "is inf"),
        ("/v1/models/iris/predict", "not json", "", 400, "not valid JSON"),
        (
            "/v1/models/iris/predict",
            '{"inputs": [{"sepal_length": 1, "sepal_length": 2}]}',
            "",
            400,
            "'sepal_length' appears twice",
        ),
        ("/v1/models/iris/predict", "[" * 200_000 + "]" * 200_000, "", 400, "nest too deeply"),
        ("/v1/models/iris/predict", '{"inputs": [[' + "1" * 5000 + "]]}", "", 400, "digits"),
        ("/v1/models/iris/predict", '{"rows": []}', "", 400, "unknown field"),
        ("/v1/models/iris/predict", '{"inputs": []}', "", 400, "inputs"),
        ("/v1/models/Bad_Name/predict", '{"inputs": [[1, 2, 3, 4]]}', "", 400, "name"),
        ("/v1/models/iris/predict", '{"inputs": [[1, 2, 3, 4]]}', "stage=prod", 400, "stage"),
        ("/nowhere", None, "", 404, "Not Found"),
    ],
)
def test_client_mistakes_are_precise_problem_json(live_iris, path, body, query, status, detail):
    code, headers, problem = call(function_url_event(path, body, query))
    assert code == status
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == status
    assert detail in problem["detail"]
    assert "Traceback" not in json.dumps(problem)


def test_health(live_iris):
    status, _, body = call(function_url_event("/health", None, method="GET"))
    assert (status, body) == (200, {"status": "ok"})


def emf_records(output: str) -> list[dict]:
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [r for r in records if "Invocations" in r]


def test_every_prediction_emits_embedded_metrics_per_version(live_iris, capsys):
    call(function_url_event("/v1/models/iris/predict", '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'))
    call(function_url_event("/v1/models/iris/predict", '{"inputs": [[1, 2]]}'))
    ok, rejected = emf_records(capsys.readouterr().out)
    assert (ok["model"], ok["version"], ok["Invocations"], ok["SchemaRejections"]) == (
        "iris",
        "1",
        [1.0],
        [0.0],
    )
    assert rejected["SchemaRejections"] == [1.0] and rejected["Errors"] == [0.0]
    directive = ok["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["model", "version", "environment"], ["function_name"]]
    assert ok["environment"] == "rehearsal"
    assert ok["function_name"] == "slipway-endpoint-test"  # Lambda's context names it
    assert {m["Name"] for m in directive["Metrics"]} == {
        "Invocations",
        "Errors",
        "SchemaRejections",
        "Latency",
    }


def test_a_live_canary_takes_its_share(live_iris, iris_bundle):
    from registry.statuses import Stage

    store = app.state.model_store
    repository = store._repository
    second = json.loads(iris_bundle[1].model_dump_json()) | {"version": "2"}
    item = repository.get_version("iris", "1")
    bundle = UploadedBundle(**item["bundle"])
    repository.register_version(second, bundle, "exec-2")
    repository.acquire_lock("iris", "2", "promotion-of-2", ttl_seconds=60)  # as it does
    repository.start_canary("iris", "2", 0.25, "promotion-of-2")
    draws = iter([0.1, 0.9])
    store._random = lambda: next(draws)
    assert store.version_for_stage("iris", Stage.LIVE) == "2"  # 0.1 < 0.25
    assert store.version_for_stage("iris", Stage.LIVE) == "1"
    assert repository.clear_canary("iris", "2", "promotion-of-2")
    assert "canary_version" not in repository.get_pointer("iris")


def test_batch_and_body_limits_answer_413_with_a_hint(live_iris, monkeypatch):
    from model_runtime.serving.settings import get_settings

    rows = json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]] * 1001})
    status, _, problem = call(function_url_event("/v1/models/iris/predict", rows))
    assert status == 413
    assert problem["detail"] == (
        "1001 rows in one request; the limit is 1000: split the batch into several requests"
    )
    monkeypatch.setattr(get_settings(), "max_body_bytes", 100)
    status, _, problem = call(function_url_event("/v1/models/iris/predict", rows))
    assert status == 413 and "send fewer rows per request" in problem["detail"]


def test_each_prediction_is_one_json_line_with_request_id_model_and_metrics(live_iris, capsys):
    call(function_url_event("/v1/models/iris/predict", '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (record,) = [line for line in lines if line.get("message") == "prediction"]
    assert record["function_request_id"] == "6f9b0c1e-test-request"
    assert (record["model"], record["version"], record["status"]) == ("iris", "1", 200)
    assert record["traffic"] == "live" and record["Invocations"] == [1.0]
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["model", "version", "environment"],
        ["function_name"],
    ]
    assert record["environment"] == "rehearsal"  # the environment infra deployed it into


def test_the_first_invocation_emits_a_cold_start_metric(live_iris, capsys, monkeypatch):
    from model_runtime.serving import handler as module

    monkeypatch.setattr(module, "_container", {"cold": True})
    call(function_url_event("/health", None, method="GET"))
    call(function_url_event("/health", None, method="GET"))
    blobs = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ColdStart"' in line
    ]
    assert len(blobs) == 1 and blobs[0]["function_name"] == "slipway-endpoint-test"


def test_a_bundle_that_fails_verification_is_a_503_with_the_reason(live_iris):
    store = app.state.model_store
    repository = store._repository
    second = json.loads(live_iris.model_dump_json()) | {"version": "9"}
    item = repository.get_version("iris", "1")
    tampered = UploadedBundle(**{**item["bundle"], "digest": "0" * 64})
    repository.register_version(second, tampered, "exec-9")
    body = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
    status, _, problem = call(function_url_event("/v1/models/iris/versions/9/predict", body))
    assert status == 503
    assert problem["title"] == "Model cannot be loaded"
    assert "the registry recorded 0000" in problem["detail"]


def test_a_dedicated_endpoint_answers_only_for_its_models(live_iris, monkeypatch):
    from model_runtime.serving.settings import get_settings

    monkeypatch.setattr(get_settings(), "served_models", "fraud-score")
    body = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
    status, _, problem = call(function_url_event("/v1/models/iris/predict", body))
    assert status == 404
    assert problem["detail"] == (
        "model 'iris' is not served by this endpoint; it serves fraud-score"
    )


def promote_python_model(tmp_path, name: str, predict_source: str) -> None:
    """Build a python-flavor bundle whose Predictor.predict has ``predict_source`` as its
    body, upload it next to iris and promote it to live."""
    from model_runtime.packaging import build_python_bundle, capture_code_version

    folder = tmp_path / name
    folder.mkdir()
    body = "".join(f"        {line}\n" for line in predict_source.strip().splitlines())
    (folder / "predictor.py").write_text(
        "import numpy as np\n\n"
        "class Predictor:\n"
        "    def load(self, path):\n"
        "        pass\n"
        "    def predict(self, inputs):\n" + body
    )
    bundle = tmp_path / f"{name}.tar.gz"
    manifest = build_python_bundle(
        folder,
        out=bundle,
        name=name,
        version="1",
        feature_names=["x"],
        example_rows=[[1.0]],
        output_dtype="float64",
        code=capture_code_version(tmp_path),
        datasets=[],
    )
    store = app.state.model_store
    key = f"models/{name}/1/bundle.tar.gz"
    put = store._s3.put_object(Bucket="artifacts", Key=key, Body=bundle.read_bytes())
    uploaded = UploadedBundle(
        "artifacts", key, put["VersionId"], sha256_file(bundle), bundle.stat().st_size
    )
    store._repository.register_version(json.loads(manifest.model_dump_json()), uploaded, "e")
    store._repository.promote(name, "1", "e")


def test_an_unexpected_error_is_a_500_problem_with_no_trace_and_is_logged(
    live_iris, tmp_path, capsys, monkeypatch
):
    import io

    from model_runtime.serving.metrics import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    # GIVEN a live python-flavor model whose code fails on large values
    promote_python_model(
        tmp_path,
        "fragile",
        """
if max(max(row) for row in inputs) > 100:
    raise RuntimeError('secret internal state in /var/task')
return [0.0 for _ in inputs]
""",
    )
    # WHEN a request makes its code raise
    status, headers, problem = call(
        function_url_event("/v1/models/fragile/predict", '{"inputs": [[1000.0]]}')
    )
    # THEN the caller gets a 500 problem that reveals nothing; logs and metrics get the error
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert problem["detail"] == "the server failed to answer; the error is in its logs"
    assert "secret" not in json.dumps(problem) and "Traceback" not in json.dumps(problem)
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    (error,) = [log for log in logs if log["level"] == "ERROR"]
    assert "secret internal state" in error["exception"]
    assert error["function_request_id"] == "6f9b0c1e-test-request"
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (served,) = [blob for blob in blobs if blob.get("model") == "fragile"]
    assert (served["status"], served["Errors"]) == (500, [1.0])
    # AND it counts in the endpoint's own series, which the 5xx alarm watches
    assert ["function_name"] in served["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert served["function_name"] == "slipway-endpoint-test"


def test_a_5xx_before_any_model_answered_counts_in_the_endpoints_errors(live_iris, capsys):
    """Lambda's own Errors metric never sees a contained exception, and a request that fails
    before a model version was chosen has no (model, version) series: the endpoint's
    per-function series must count it, or the 5xx alarm never fires."""
    from slipway.local.emf import metric_data_from_logs

    # GIVEN an endpoint whose registry has gone (the table deleted under it)
    app.state.model_store._repository._table.delete()
    capsys.readouterr()
    # WHEN a client asks for a prediction
    body = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
    status, _, problem = call(function_url_event("/v1/models/iris/predict", body))
    # THEN it gets the contained 500 problem
    assert status == 500 and problem["title"] == "Internal error"
    # AND CloudWatch extracts one 5xx for the function from the request's line
    ((_, data),) = metric_data_from_logs(capsys.readouterr().out).items()
    errors = [(d["Value"], d["Dimensions"]) for d in data if d["MetricName"] == "Errors"]
    assert errors == [(1.0, [{"Name": "function_name", "Value": "slipway-endpoint-test"}])]


def test_an_answer_json_cannot_carry_is_named_as_the_models_fault(live_iris, tmp_path):
    promote_python_model(
        tmp_path, "unstable", "return [float('nan') if row[0] > 100 else 1.0 for row in inputs]"
    )
    status, _, problem = call(
        function_url_event("/v1/models/unstable/predict", '{"inputs": [[1000.0]]}')
    )
    assert status == 500
    assert problem["title"] == "The model's answer cannot be sent as JSON"
    assert problem["detail"].startswith("unstable 1 answered with a value JSON cannot carry")


def test_numpy_scalars_from_a_python_predictor_are_plain_json(live_iris, tmp_path):
    promote_python_model(tmp_path, "numpyish", "return [np.float32(0.5) for _ in inputs]")
    status, _, answer = call(
        function_url_event("/v1/models/numpyish/predict", '{"inputs": [[1.0], [2.0]]}')
    )
    assert (status, answer["outputs"]) == (200, [0.5, 0.5])


PROVISIONED_INIT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"}


def test_a_provisioned_dedicated_endpoint_loads_its_models_while_initialising(
    live_iris, monkeypatch
):
    from model_runtime.serving.settings import get_settings
    from model_runtime.serving.warm_up import warm_up

    monkeypatch.setattr(get_settings(), "served_models", "iris,absent")
    store = app.state.model_store
    assert warm_up(app, {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}) == []
    assert store.cached_versions == []
    # a model that cannot be loaded is skipped: initialisation must not fail
    assert warm_up(app, PROVISIONED_INIT) == ["iris 1"]
    assert store.cached_versions == ["1"]


def test_the_default_endpoint_loads_nothing_while_initialising(live_iris):
    from model_runtime.serving.warm_up import warm_up

    assert warm_up(app, PROVISIONED_INIT) == []
    assert app.state.model_store.cached_versions == []


def test_a_provisioned_environment_emits_no_cold_start_metric(live_iris, capsys, monkeypatch):
    from model_runtime.serving import handler as module

    monkeypatch.setattr(module, "_container", {"cold": True})
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    status, _, _ = call(function_url_event("/health", None, method="GET"))
    assert status == 200
    assert '"ColdStart"' not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/v1/models/Bad_Name/predict", "path.name: String should match pattern"),
        ("/v1/models/iris%0A/predict", "path.name: String should match pattern"),
        (
            "/v1/models/iris/predict?stage=canary",
            "query.stage: Input should be 'live' or 'staging'",
        ),
        ("/v1/models/iris/versions/.1/predict", "path.version: String should match pattern"),
    ],
)
def test_a_malformed_name_stage_or_version_is_a_400_naming_the_parameter(live_iris, path, detail):
    # the prediction routes read their parameters themselves; the messages stay FastAPI's
    raw_path, _, query = path.partition("?")
    status, _, problem = call(function_url_event(raw_path, '{"inputs": [[1, 2, 3, 4]]}', query))
    assert status == 400 and problem["detail"].startswith(detail)
