"""Serving settings, read from the environment once and served by a cached dependency."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_")

    table_name: str | None = Field(
        None, description="lineage table holding versions and stage pointers"
    )
    bundle_cache_dir: Path = Path("/tmp/slipway")
    pointer_cache_seconds: float = 5.0
    model_cache_bytes: int = Field(1024**3, description="loaded models kept, by bundle size")
    max_batch_rows: int = Field(1000, ge=1, description="rows one request may ask for")
    # Lambda's synchronous invoke payload limit, which a Function URL request must fit.
    max_body_bytes: int = 6 * 1024 * 1024
    served_models: str = Field("", description="comma-separated models; empty serves all")

    def serves(self, name: str) -> bool:
        return not self.served_models or name in self.served_models.split(",")


@cache
def get_settings() -> ServingSettings:
    return ServingSettings()  # type: ignore[call-arg]
