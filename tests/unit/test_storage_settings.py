"""The function's /tmp size, set by infra, bounds what the runtime extracts and keeps."""

from __future__ import annotations

import gzip
import tarfile

import pytest

from model_runtime.bundle import open_bundle
from model_runtime.exceptions import ArchiveLimitExceededError
from model_runtime.serving import settings
from registry.environment import EPHEMERAL_STORAGE_MB

_MIB = 1024**2


@pytest.fixture
def storage(monkeypatch):
    def configure(megabytes: int) -> settings.StorageSettings:
        monkeypatch.setenv(EPHEMERAL_STORAGE_MB, str(megabytes))
        settings.get_storage_settings.cache_clear()
        return settings.get_storage_settings()

    yield configure
    settings.get_storage_settings.cache_clear()


@pytest.mark.parametrize("megabytes", [512, 2048, 10240])
def test_the_variable_infra_sets_bounds_the_budget_and_the_cap(storage, megabytes):
    # GIVEN a function deployed with this much /tmp
    # WHEN the runtime reads its storage settings
    configured = storage(megabytes)
    # THEN what it keeps leaves a reserve, and one bundle's archive and files fit side by side
    assert configured.ephemeral_storage_mb == megabytes
    assert configured.disk_budget_bytes <= megabytes * _MIB - 64 * _MIB
    assert configured.extraction_limits().max_total_bytes <= configured.disk_budget_bytes // 2


def test_without_the_variable_lambdas_default_512_mb_is_assumed(monkeypatch):
    monkeypatch.delenv(EPHEMERAL_STORAGE_MB, raising=False)
    assert settings.StorageSettings().ephemeral_storage_mb == 512


def test_open_bundle_refuses_what_the_functions_disk_cannot_hold(storage, tmp_path):
    # GIVEN a 512 MB function and an archive whose member declares 300 MiB
    storage(512)
    info = tarfile.TarInfo("model.bin")
    info.size = 300 * _MIB
    archive = tmp_path / "big.tar.gz"
    archive.write_bytes(gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT)))
    # WHEN it is opened with the default limits
    # THEN it is refused on the declared size, before a byte of it is written
    with pytest.raises(ArchiveLimitExceededError, match="declares 314572800 bytes"):
        open_bundle(archive, tmp_path / "out" / "bundle")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
