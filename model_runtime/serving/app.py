"""The FastAPI application factory."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from model_runtime.serving.metrics import emit_request_metrics, logger
from model_runtime.serving.problems import install_problem_handlers
from model_runtime.serving.routes import router


def create_app() -> FastAPI:
    app = FastAPI(
        title="Slipway model endpoint",
        version="1",
        description="Predictions from the models promoted in the Slipway lineage registry.",
    )
    app.include_router(router)
    install_problem_handlers(app)

    @app.middleware("http")
    async def serving_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        served = getattr(request.state, "served", None)  # set once a model version is chosen
        if served is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            emit_request_metrics(served[0], served[1], response.status_code, latency_ms)
            response.headers["X-Model-Version"] = served[1]  # errors say who answered, too
            logger.info(
                "prediction",
                extra={
                    "model": served[0],
                    "version": served[1],
                    "status": response.status_code,
                    "latency_ms": round(latency_ms, 3),
                },
            )
        return response

    return app
