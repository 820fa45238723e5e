"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

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
    return app
