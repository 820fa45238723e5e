"""Serving settings, read from the environment once and served by cached dependencies.

Two groups: the request limits every server of the app applies (``slipway serve`` too), and
the registry the deployed endpoint reads, whose table and pointer-cache time infra always
sets (their one default lives in ``infra/config.py``), so they have no default here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from model_runtime.extraction import ExtractionLimits
from registry.aws import SYNC_INVOKE_PAYLOAD_BYTES
from registry.exceptions import MissingSettingError
from registry.statuses import ServingRole

PREFIX = "SLIPWAY_"
_MIB = 1024**2


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX)

    max_batch_rows: int = Field(1000, ge=1, description="rows one request may ask for")
    # A Function URL request must fit Lambda's synchronous invoke payload.
    max_body_bytes: int = SYNC_INVOKE_PAYLOAD_BYTES
    served_models: str = Field("", description="comma-separated models; empty serves all")

    def serves(self, name: str) -> bool:
        return not self.served_models or name in self.served_models.split(",")


class BundleCacheSettings(BaseSettings):
    """Where downloaded bundles and loaded models are kept, wherever models are loaded."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    bundle_cache_dir: Path = Field(Path("/tmp/slipway"), description="Lambda's writable /tmp")
    model_cache_bytes: int = Field(1024**3, description="loaded models kept, by bundle size")


class StorageSettings(BaseSettings):
    """How large this function's /tmp is. Bundles on disk and the extraction cap are derived
    from it, so a bundle is refused or evicted before it could fill the disk (a full /tmp
    fails every later load). Without the variable, Lambda's default of 512 MB is assumed."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    # infra sets it on every runtime function from the function's own ephemeral storage
    ephemeral_storage_mb: int = Field(512, ge=512, le=10240, description="the function's /tmp")

    @property
    def disk_budget_bytes(self) -> int:
        """What downloaded and extracted bundles may occupy: /tmp less a reserve for the
        runtime's and libraries' own temporary files."""
        total = self.ephemeral_storage_mb * _MIB
        return total - max(64 * _MIB, total // 10)

    def extraction_limits(self) -> ExtractionLimits:
        """One bundle's archive and its extracted files must fit the budget side by side."""
        ceiling = ExtractionLimits().max_total_bytes
        return ExtractionLimits(max_total_bytes=min(ceiling, self.disk_budget_bytes // 2))

    @property
    def max_bundle_bytes(self) -> int:
        """The largest archive the function takes (it is extracted next to itself)."""
        return self.extraction_limits().max_total_bytes


class RegistryStoreSettings(BundleCacheSettings):
    """Where a deployed endpoint finds versions and bundles, and how long it trusts a
    stage pointer."""

    table_name: str = Field(description="lineage table holding versions and stage pointers")
    pointer_cache_seconds: float = Field(ge=0, description="how long a stage pointer is reused")
    serving_role: ServingRole = Field(description="live traffic, or candidates for the gate")
    allow_python: bool = Field(description="whether python-flavor bundles run here")


class RuntimeSettings(BaseSettings):
    """What the environment decides about loading models, wherever the runtime loads them
    (the endpoint, Validate, Evaluate)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    trusted_model_types: str = Field(
        "", description="comma-separated skops types trusted beyond the curated allow-list"
    )

    def trusted_types(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.trusted_model_types.split(",") if t.strip())


@cache
def get_runtime_settings() -> RuntimeSettings:
    return RuntimeSettings()


@cache
def get_settings() -> ServingSettings:
    return ServingSettings()


@cache
def get_storage_settings() -> StorageSettings:
    return StorageSettings()


@cache
def get_bundle_cache_settings() -> BundleCacheSettings:
    return BundleCacheSettings()


@cache
def get_registry_store_settings() -> RegistryStoreSettings:
    try:
        return RegistryStoreSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        missing = [f"{PREFIX}{str(e['loc'][0]).upper()}" for e in exc.errors()]
        raise MissingSettingError(
            f"the endpoint has no registry to read: {', '.join(missing)} not set or invalid"
        ) from None
