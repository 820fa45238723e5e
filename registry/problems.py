"""One problem+json vocabulary (RFC 9457) for every Slipway HTTP API.

The model endpoint and the registry API answer every error as ``application/problem+json``
with a ``type`` from the list below, never a stack trace. Each API maps its own exceptions
to these kinds (``install_problem_handlers``); unexpected exceptions become a logged 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://slipway.dev/problems/"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its HTTP status, the last part of its ``type`` URI, its title."""

    status: int
    slug: str
    title: str

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug


BAD_REQUEST = ProblemType(400, "bad-request", "Malformed request")
FORBIDDEN = ProblemType(403, "forbidden", "The caller may not do this")
NOT_FOUND = ProblemType(404, "not-found", "Not found")
MODEL_NOT_FOUND = ProblemType(404, "model-not-found", "Model not found")
CONFLICT = ProblemType(409, "conflict", "The request conflicts with the registry's state")
PAYLOAD_TOO_LARGE = ProblemType(413, "payload-too-large", "Request too large")
INVALID_INPUT = ProblemType(422, "invalid-input", "Input does not fit the model's signature")
MODEL_OUTPUT = ProblemType(500, "model-output", "The model's answer cannot be sent as JSON")
INTERNAL_ERROR = ProblemType(500, "internal-error", "Internal error")
MODEL_UNAVAILABLE = ProblemType(503, "model-unavailable", "Model cannot be loaded")
BUSY = ProblemType(503, "busy", "Try again in a moment")
HTTP_ERROR_SLUG = "http-error"  # routing errors (405, unknown path): the status says it all


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error a Slipway API answers."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str = Field(description="the kind of problem, for people")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what was wrong and where, for this request")


PROBLEM_SCHEMA = Problem.model_json_schema()


def problem(kind: ProblemType, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": kind.uri, "title": kind.title, "status": kind.status, "detail": detail},
        status_code=kind.status,
        media_type=PROBLEM_JSON,
    )


def problem_responses(meanings: Mapping[int, str], *statuses: int) -> dict[int | str, Any]:
    """OpenAPI ``responses`` documenting problem answers (replacing FastAPI's default 422,
    whose validation-error shape a Slipway API never sends)."""
    return {
        status: {
            "description": meanings[status],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def install_problem_handlers(
    app: FastAPI,
    logger: Any,
    kinds: Mapping[type[Exception], ProblemType],
    bases: tuple[type[Exception], ...] = (),
    fallback: ProblemType = INTERNAL_ERROR,
) -> None:
    """Answer ``kinds`` (by exact class) and other subclasses of ``bases`` (as ``fallback``,
    with their message) as problems; malformed requests are 400s; anything else is contained
    by :class:`ContainUnexpectedErrors` and logged to ``logger``."""
    app.add_middleware(ContainUnexpectedErrors, logger=logger)
    _drop_validation_error_responses(app)

    async def _known(request: Request, exc: Exception) -> JSONResponse:
        return problem(kinds.get(type(exc), fallback), str(exc))

    for exception in {*kinds, *bases}:
        app.add_exception_handler(exception, _known)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return problem(BAD_REQUEST, details)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = ProblemType(exc.status_code, HTTP_ERROR_SLUG, str(exc.detail))
        return problem(kind, str(exc.detail))


def _drop_validation_error_responses(app: FastAPI) -> None:
    """Validation errors are answered as 400 problems, so the 422 responses FastAPI documents
    with its own HTTPValidationError shape would be false: remove them."""
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

    def __init__(self, app: ASGIApp, logger: Any) -> None:
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
                    INTERNAL_ERROR, "the server failed to answer; the error is in its logs"
                )
                await response(scope, receive, send)
