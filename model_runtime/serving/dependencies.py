"""The model store used by the routes; built once per container, overridable in tests."""

from __future__ import annotations

from functools import cache

import boto3

from functions.lineage.repository import LineageRepository
from model_runtime.model_store import ModelStore
from model_runtime.serving.settings import get_settings


@cache
def get_model_store() -> ModelStore:
    settings = get_settings()
    if not settings.table_name:
        raise RuntimeError("SLIPWAY_TABLE_NAME is not set: the endpoint has no registry to read")
    table = boto3.resource("dynamodb").Table(settings.table_name)
    return ModelStore(
        LineageRepository(table),
        boto3.client("s3"),
        settings.bundle_cache_dir,
        settings.pointer_cache_seconds,
        settings.model_cache_bytes,
    )
