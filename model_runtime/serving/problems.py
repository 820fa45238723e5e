"""RFC 9457 problem responses: every error leaves as application/problem+json, no traces."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from model_runtime.exceptions import (
    InvalidInputError,
    InvalidRequestError,
    ModelNotFoundError,
    PayloadTooLargeError,
    SlipwayRuntimeError,
)

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

_STATUS = {
    InvalidInputError: (422, "invalid-input", "Input does not fit the model's signature"),
    ModelNotFoundError: (404, "model-not-found", "Model not found"),
    InvalidRequestError: (400, "bad-request", "Malformed request"),
    PayloadTooLargeError: (413, "payload-too-large", "Request too large"),
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


def install_problem_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error serving %s", request.url.path)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "the server failed to answer; the error is in its logs",
        )
