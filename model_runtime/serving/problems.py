"""RFC 9457 problem responses: every error leaves as application/problem+json, no traces."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_runtime.exceptions import (
    InvalidInputError,
    InvalidRequestError,
    ModelNotFoundError,
    ModelOutputError,
    PayloadTooLargeError,
    SlipwayRuntimeError,
)
from model_runtime.serving.metrics import logger as endpoint_logger

PROBLEM_JSON = "application/problem+json"

_STATUS = {
    InvalidInputError: (422, "invalid-input", "Input does not fit the model's signature"),
    ModelNotFoundError: (404, "model-not-found", "Model not found"),
    InvalidRequestError: (400, "bad-request", "Malformed request"),
    PayloadTooLargeError: (413, "payload-too-large", "Request too large"),
    ModelOutputError: (500, "model-output", "The model's answer cannot be sent as JSON"),
}


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error the endpoint answers."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str = Field(description="the kind of problem, for people")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what was wrong and where, for this request")


_MEANING = {
    400: "the body is not JSON or not {inputs: [...]}, or a parameter is malformed",
    404: "no such model, stage or version on this endpoint",
    413: "too many rows or too large a body; the detail says how to split",
    422: "an input does not fit the model's signature; the detail names row and feature",
    500: "the model's answer cannot be sent, or an unexpected error (logged)",
    503: "the model cannot be loaded; the detail is the verification or load error",
}


_PROBLEM_SCHEMA = Problem.model_json_schema()


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem answers (replacing FastAPI's default 422,
    whose validation-error shape this app never sends)."""
    return {
        status: {
            "description": _MEANING[status],
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def problem(status: int, kind: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"https://slipway.dev/problems/{kind}",
            "title": title,
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type=PROBLEM_JSON,
    )


def install_problem_handlers(app: FastAPI, logger: Logger = endpoint_logger) -> None:
    """Problems for Slipway's errors, malformed requests and HTTP errors; unexpected
    exceptions are contained by :class:`ContainUnexpectedErrors` and logged to ``logger``."""
    app.add_middleware(ContainUnexpectedErrors, logger=logger)
    _drop_validation_error_responses(app)

    @app.exception_handler(SlipwayRuntimeError)
    async def _runtime_error(request: Request, exc: SlipwayRuntimeError) -> JSONResponse:
        status, kind, title = _STATUS.get(
            type(exc), (503, "model-unavailable", "Model cannot be loaded")
        )
        return problem(status, kind, title, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return problem(400, "bad-request", "Malformed request", details)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, "http-error", str(exc.detail), str(exc.detail))


def _drop_validation_error_responses(app: FastAPI) -> None:
    """Validation errors are answered as 400 problems (below), so the 422 responses FastAPI
    documents with its own HTTPValidationError shape would be false: remove them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()  # FastAPI caches it in app.openapi_schema
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in str(responses.get("422", "")):
                        del responses["422"]
            for name in ("HTTPValidationError", "ValidationError"):
                document.get("components", {}).get("schemas", {}).pop(name, None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


class ContainUnexpectedErrors:
    """Pure ASGI middleware: an unexpected exception becomes a logged 500 problem, and ends.

    Starlette's handler for ``Exception`` answers and then re-raises (so servers can log it);
    under Mangum that fails the whole invocation, the caller gets Lambda's bare 502 instead of
    a problem, and the request's metrics are never written. Here the error stops.
    """

    def __init__(self, app: ASGIApp, logger: Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = {"response": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["response"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            self.logger.exception("unhandled error serving %s", scope.get("path", ""))
            if not started["response"]:  # otherwise the client already has a status
                response = problem(
                    500,
                    "internal-error",
                    "Internal error",
                    "the server failed to answer; the error is in its logs",
                )
                await response(scope, receive, send)
