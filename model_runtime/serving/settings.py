"""Serving settings, read from the environment once and served by a cached dependency."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_")

    table_name: str = Field(description="lineage table holding versions and stage pointers")
    bundle_cache_dir: Path = Path("/tmp/slipway")
    pointer_cache_seconds: float = 5.0


@cache
def get_settings() -> ServingSettings:
    return ServingSettings()  # type: ignore[call-arg]
