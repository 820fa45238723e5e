"""The model store the routes use: given to the app, or built from settings on first use."""

from __future__ import annotations

from functools import cache

from fastapi import Request

from model_runtime.exceptions import ModelNotFoundError
from model_runtime.model_store import ModelSource, ModelStore
from model_runtime.serving.settings import get_registry_store_settings, get_settings


@cache
def get_model_store() -> ModelStore:
    """The registry-backed store of a deployed endpoint, once per container.

    boto3 is imported here, not at module level: ``slipway serve`` never needs it, and an
    endpoint's cold start pays for it only when the first request arrives.
    """
    from registry import aws

    settings = get_registry_store_settings()
    return ModelStore(
        aws.lineage_repository(),
        aws.client("s3"),
        settings.bundle_cache_dir,
        pointer_ttl_seconds=settings.pointer_cache_seconds,
        model_cache_bytes=settings.model_cache_bytes,
        role=settings.serving_role,
        allow_python=settings.allow_python,
    )


async def model_store(request: Request) -> ModelSource:
    """``app.state.model_store`` if the app was given one (tests, ``slipway serve``).

    A dedicated endpoint answers only for the models it was deployed for.
    """
    name = request.path_params.get("name")
    if name is not None and not get_settings().serves(name):
        raise ModelNotFoundError(
            f"model {name!r} is not served by this endpoint; it serves "
            f"{get_settings().served_models}"
        )
    store: ModelSource | None = request.app.state.model_store
    if store is None:
        store = request.app.state.model_store = get_model_store()
    return store
