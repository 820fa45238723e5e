"""RFC 9457 problem responses: every error leaves as application/problem+json, no traces."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
