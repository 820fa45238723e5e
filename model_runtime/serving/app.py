"""The FastAPI application factory."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_runtime.model_store import ModelSource
from model_runtime.serving.metrics import Served, emit_request_metrics
from model_runtime.serving.problems import install_problem_handlers
from model_runtime.serving.routes import REQUEST_ID, request_id_of, router


class ServingMetrics:
    """Pure ASGI middleware: one line per request, its metrics and its record. Outside
    ``ContainUnexpectedErrors``, so an unexpected exception reaches it as the 500 it became.

    Pure ASGI rather than ``@app.middleware("http")``, whose per-request task and stream
    plumbing costs more than the rest of the request path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        context = scope.get("aws.context")  # Mangum's: absent under uvicorn
        request_id = request_id_of(context)
        scope.setdefault("state", {})[REQUEST_ID] = request_id  # the routes' id, too

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # every answer, an error or a 202 too, names its request for the logs
                headers = [
                    h
                    for h in message.get("headers", [])
                    if h[0] not in (b"x-model-version", b"x-request-id")
                ]
                headers.append((b"x-request-id", request_id.encode()))
                served: Served | None = scope.get("state", {}).get("served")
                if served is not None:  # errors say which version answered, too
                    headers.append((b"x-model-version", served.version.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_version)
        # every request, a model answered or not: a 5xx before any model was chosen counts
        # in the function's series (metrics.py)
        served: Served | None = scope.get("state", {}).get("served")
        latency_ms = (time.perf_counter() - started) * 1000
        emit_request_metrics(
            served,
            status["code"],
            latency_ms,
            getattr(context, "aws_request_id", None),
            getattr(context, "function_name", None),
            scope.get("path", ""),
        )


def create_app(model_store: ModelSource | None = None, **fastapi_options: Any) -> FastAPI:
    """The endpoint app; without a store it reads the registry named by its settings."""
    app = FastAPI(
        title="Slipway model endpoint",
        version="1",
        description="Predictions from the models promoted in the Slipway lineage registry.",
        **fastapi_options,
    )
    app.state.model_store = model_store
    app.include_router(router)
    install_problem_handlers(app)
    app.add_middleware(ServingMetrics)  # added last, so outermost: it sees every status
    return app
