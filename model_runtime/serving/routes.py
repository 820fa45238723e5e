"""The serving API: the same routes on every endpoint, in AWS and locally."""

from __future__ import annotations

import re
import sys
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StrictBool,
    StrictInt,
    ValidationError,
)

from model_runtime.exceptions import InvalidRequestError, ModelOutputError, PayloadTooLargeError
from model_runtime.manifest import describe_validation_error
from model_runtime.model import LoadedModel
from model_runtime.model_store import ModelSource
from model_runtime.serving import capture
from model_runtime.serving.dependencies import model_store
from model_runtime.serving.metrics import Served, Traffic
from model_runtime.serving.problems import problem_responses
from model_runtime.serving.settings import get_settings
from registry.monitoring_settings import MAX_CAPTURE_LINE_BYTES
from registry.names import NAME_PATTERN, VERSION_PATTERN
from registry.statuses import Stage
from registry.strict_json import StrictJsonError, load_strict_json

router = APIRouter()
_Body = TypeVar("_Body", bound=BaseModel)
_process = {"cold": True}  # the first request this process serves is a cold start
ModelName = Path(pattern=NAME_PATTERN.pattern)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[list[Any] | dict[str, Any]] = Field(min_length=1)


async def _json_body(request: Request, model: type[_Body], what: str) -> _Body:
    """The body as JSON whatever its content type (a plain ``curl -d`` must work), within
    the body-size limit."""
    settings = get_settings()
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(body)} bytes; the limit is {settings.max_body_bytes} "
            f"(Lambda's synchronous payload): send fewer {what} per request"
        )
    try:
        return model.model_validate(load_strict_json(body))
    except StrictJsonError as exc:
        raise InvalidRequestError(f"request body: {exc}") from None
    except ValidationError as exc:
        raise InvalidRequestError(describe_validation_error("request body", exc)) from None


async def predict_request(request: Request) -> PredictRequest:
    """The body within the body-size and batch-size limits."""
    settings = get_settings()
    parsed = await _json_body(request, PredictRequest, "rows")
    if len(parsed.inputs) > settings.max_batch_rows:
        raise PayloadTooLargeError(
            f"{len(parsed.inputs)} rows in one request; the limit is {settings.max_batch_rows}: "
            "split the batch into several requests"
        )
    return parsed


# Parsed by hand above, so the schema is declared for the OpenAPI document explicitly.
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
}

PREDICT_PROBLEMS = problem_responses(400, 404, 413, 422, 500, 503)


class PredictResponse(BaseModel):
    model: str
    version: str
    outputs: list[Any]
    request_id: str = Field(
        description="this request's id (also the X-Request-Id header): send it with the true "
        "labels to /v1/models/{name}/feedback"
    )


class ModelDescription(BaseModel):
    model: str
    stage: str
    version: str
    flavor: str
    signature: dict[str, Any]


# Every route is async: the work is short, and a thread hand-off per request would cost more
# than the prediction itself.


@router.get("/health", responses=problem_responses(500))
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/v1/models/{name}",
    response_model=ModelDescription,
    responses=problem_responses(400, 404, 500),
)
async def describe_model(
    name: str = ModelName,
    stage: Stage = Stage.LIVE,
    store: ModelSource = Depends(model_store),
) -> ModelDescription:
    version = str(store.pointer(name, stage)["version"])  # the stable version, not a canary
    item = store.version_item(name, version)
    return ModelDescription(
        model=name, stage=stage, version=version, flavor=item["flavor"], signature=item["signature"]
    )


# The prediction routes read their path and query parameters themselves, with FastAPI's
# messages: solving them through FastAPI cost a tenth of the request path (bench/serving.py).
# So they are declared for the OpenAPI document by hand, like the body.
_NAME_PARAMETER = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": NAME_PATTERN.pattern, "title": "Name"},
}
_VERSION_PARAMETER = {
    "name": "version",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": VERSION_PATTERN.pattern, "title": "Version"},
}
_STAGE_PARAMETER = {
    "name": "stage",
    "in": "query",
    "required": False,
    "schema": {
        "type": "string",
        "enum": [stage.value for stage in Stage],
        "default": Stage.LIVE.value,
        "title": "Stage",
    },
}
_STAGES = " or ".join(f"'{stage.value}'" for stage in Stage)


def _path_parameter(request: Request, name: str, pattern: re.Pattern[str]) -> str:
    value: str = request.path_params[name]
    if pattern.fullmatch(value) is None:
        raise InvalidRequestError(f"path.{name}: String should match pattern '{pattern.pattern}'")
    return value


def _stage(request: Request) -> Stage:
    value = request.query_params.get("stage", Stage.LIVE.value)
    try:
        return Stage(value)
    except ValueError:
        raise InvalidRequestError(f"query.stage: Input should be {_STAGES}") from None


@router.post(
    "/v1/models/{name}/predict",
    response_model=PredictResponse,
    responses=PREDICT_PROBLEMS,
    openapi_extra={**PREDICT_BODY, "parameters": [_NAME_PARAMETER, _STAGE_PARAMETER]},
)
async def predict_stage(request: Request) -> JSONResponse:
    name = _path_parameter(request, "name", NAME_PATTERN)
    stage = _stage(request)
    body, store = await _body_and_store(request)
    traffic = Traffic.LIVE if stage is Stage.LIVE else Traffic.STAGING
    return _predict(store.model(name, stage=stage), traffic, request, body)


@router.post(
    "/v1/models/{name}/versions/{version}/predict",
    response_model=PredictResponse,
    responses=PREDICT_PROBLEMS,
    openapi_extra={**PREDICT_BODY, "parameters": [_NAME_PARAMETER, _VERSION_PARAMETER]},
)
async def predict_version(request: Request) -> JSONResponse:
    name = _path_parameter(request, "name", NAME_PATTERN)
    version = _path_parameter(request, "version", VERSION_PATTERN)
    body, store = await _body_and_store(request)
    return _predict(store.model(name, version=version), Traffic.PINNED, request, body)


async def _body_and_store(request: Request) -> tuple[PredictRequest, ModelSource]:
    """The prediction routes' two dependencies, called directly rather than through
    ``Depends``: FastAPI's dependency solving cost a sixth of the request path, and the
    body's schema is declared for the OpenAPI document by hand anyway."""
    return await predict_request(request), await model_store(request)


def _predict(
    model: LoadedModel, traffic: Traffic, request: Request, body: PredictRequest
) -> JSONResponse:
    """The answer is built directly: response_model documents it, validating it again per
    request would only cost time."""
    request.state.served = Served(model.name, model.version, traffic)
    outputs = model.predict(body.inputs)
    request_id: str = getattr(request.state, REQUEST_ID)  # the middleware's (app.py)
    try:
        response = JSONResponse(
            {
                "model": model.name,
                "version": model.version,
                "outputs": outputs,
                "request_id": request_id,
            },
            headers={
                "X-Model-Version": model.version,
                "X-Model-Load-Ms": f"{model.load_ms:.1f}",
                "X-Cold-Start": "true" if _process.pop("cold", False) else "false",
            },
        )
    except (ValueError, TypeError) as exc:  # NaN or infinity, or a type json cannot write
        raise ModelOutputError(
            f"{model.name} {model.version} answered with a value JSON cannot carry: {exc}"
        ) from None
    if traffic is Traffic.LIVE:
        capture.capture_answer(request_id, model, body.inputs, outputs)
    return response


REQUEST_ID = "request_id"  # where the middleware keeps the request's id in its state


def request_id_of(context: Any) -> str:
    """Lambda's id of this invocation (one request per invocation on a Function URL), which
    its log lines carry too; a fresh one where no Lambda runs (``slipway serve``)."""
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else uuid.uuid4().hex


# What one feedback request may carry (the contract's and docs/monitoring.md's 1000); its
# line must also stay within what CloudWatch Logs takes as one event, so ids and labels are
# bounded and a request whose line would be longer is refused as a whole.
MAX_FEEDBACK_LABELS = 1000
Label = Annotated[str, Field(max_length=256)] | StrictBool | StrictInt | FiniteFloat | None


class FeedbackLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,64}$", description="the request_id of the predict answer"
    )
    row: int = Field(0, ge=0, le=1_000_000, description="the row of that request (from 0)")
    label: Label = Field(description="the true value: a class label or a number")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[FeedbackLabel] = Field(min_length=1, max_length=MAX_FEEDBACK_LABELS)


class FeedbackAccepted(BaseModel):
    model: str
    accepted: int


@router.post(
    "/v1/models/{name}/feedback",
    status_code=202,
    response_model=FeedbackAccepted,
    responses=problem_responses(400, 404, 413, 500, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FeedbackRequest.model_json_schema()}},
        }
    },
)
async def send_feedback(
    request: Request,
    name: str = ModelName,
    store: ModelSource = Depends(model_store),
) -> FeedbackAccepted:
    """True labels for earlier answers, by their request id and row: the monitor job joins
    them with the captured answers to compute the live metric. Sent again, a label replaces
    the one before (the job keeps the latest per request and row)."""
    body = await _json_body(request, FeedbackRequest, "labels")
    store.pointer(name, Stage.LIVE)  # 404 for a model this endpoint does not serve live
    line = capture.feedback_line(name, [label.model_dump() for label in body.labels])
    if len(line) > MAX_CAPTURE_LINE_BYTES:
        raise PayloadTooLargeError(
            f"the feedback is {len(line)} bytes as one log line; the limit is "
            f"{MAX_CAPTURE_LINE_BYTES}: send fewer labels per request"
        )
    sys.stdout.write(line)
    return FeedbackAccepted(model=name, accepted=len(body.labels))
