"""Where Lambda code comes from: which source folders each package holds, and how it is built.

Packages follow the layers: the control plane is ``registry/`` + ``functions/`` in a zip,
with its libraries (Powertools, pydantic, FastAPI, Mangum, openlineage-python) in a layer
built by pip for Lambda's platform; the model runtime is ``registry/`` + ``model_runtime/``,
a container image outside the embedded cloud. Inside the embedded cloud the runtime ships as
a zip too, and the executor supplies its libraries from the project environment.
No Docker is needed for anything but the runtime image.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from infra.config import ConfigError
from infra.observability_defaults import PYTHON_RUNTIME

REPO_ROOT = Path(__file__).resolve().parent.parent
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")

# Relative paths copied into each package, preserving their place in the repository.
CONTROL_PLANE_SOURCES = ("registry", "functions")
RUNTIME_SOURCES = ("registry", "model_runtime")
CONTROL_PLANE_REQUIREMENTS = REPO_ROOT / "functions" / "requirements.txt"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
# Lambda's x86_64 Python runtimes are manylinux2014 (glibc 2.17+) platforms.
LAYER_PLATFORM = "manylinux2014_x86_64"
LAYER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slipway" / "layers"


def copy_sources(sources: tuple[str, ...], destination: Path) -> None:
    for relative in sources:
        source = REPO_ROOT / relative
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=_IGNORED, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


@jsii.implements(ILocalBundling)
class _CopySources:
    """Local 'bundling' that copies source folders; it never needs Docker."""

    def __init__(self, sources: tuple[str, ...]) -> None:
        self._sources = sources

    def try_bundle(self, output_dir: str, _options: object) -> bool:
        copy_sources(self._sources, Path(output_dir))
        return True


def _no_docker() -> DockerImage:
    return DockerImage.from_registry("unused-local-bundling")


def zip_code(sources: tuple[str, ...]) -> lambda_.Code:
    """A zip asset holding ``sources``; its hash is that of the copied output.

    CDK caches bundled assets by source path and bundling options, not by the local bundler,
    so the sources are named in the options: two packages starting with the same folder
    would otherwise get the same (first) bundle.
    """
    return lambda_.Code.from_asset(
        str(REPO_ROOT / sources[0].split("/")[0]),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=_no_docker(),
            local=_CopySources(sources),
            environment={"SLIPWAY_PACKAGE_SOURCES": ",".join(sources)},
        ),
    )


def layer_fingerprint(python_version: str) -> str:
    """What the layer's contents depend on: the pins, the platform and the Python version."""
    digest = hashlib.sha256()
    for part in (
        CONTROL_PLANE_REQUIREMENTS.read_bytes(),
        CONSTRAINTS.read_bytes(),
        LAYER_PLATFORM.encode(),
        python_version.encode(),
    ):
        digest.update(part + b"\0")
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _PipInstall:
    """Local bundling of the dependency layer: ``pip install --target python/`` for Lambda's
    platform (binary wheels only), kept in a cache keyed by the layer's fingerprint."""

    def __init__(self, python_version: str) -> None:
        self._python_version = python_version

    def try_bundle(self, output_dir: str, _options: object) -> bool:
        cached = LAYER_CACHE / layer_fingerprint(self._python_version)
        if not cached.is_dir():
            self._install(cached)
        shutil.copytree(cached, output_dir, dirs_exist_ok=True)
        return True

    def _install(self, cached: Path) -> None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="layer-", dir=cached.parent))
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(staging / "python"),
            "--platform",
            LAYER_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            self._python_version,
            "--only-binary=:all:",
            "--requirement",
            str(CONTROL_PLANE_REQUIREMENTS),
            "--constraint",
            str(CONSTRAINTS),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(
                "building the control plane's dependency layer failed (pip needs PyPI): "
                + (result.stderr.strip() or result.stdout.strip())[-2000:]
            )
        try:
            staging.rename(cached)
        except OSError:  # another synth built it meanwhile
            shutil.rmtree(staging, ignore_errors=True)


class ControlPlaneCode(Construct):
    """The control plane's code (one zip asset) and its libraries (one layer), shared by every
    control-plane function of a stack."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.code = zip_code(CONTROL_PLANE_SOURCES)
        python_version = PYTHON_RUNTIME.name.removeprefix("python")
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(
                str(CONTROL_PLANE_REQUIREMENTS.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=layer_fingerprint(python_version),
                bundling=BundlingOptions(image=_no_docker(), local=_PipInstall(python_version)),
            ),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="Slipway control plane libraries: " + ", ".join(_requirements()),
        )


def _requirements() -> list[str]:
    lines = CONTROL_PLANE_REQUIREMENTS.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def runtime_zip_code() -> lambda_.Code:
    return zip_code(RUNTIME_SOURCES)


# system libraries an extra Python library needs in the image (LightGBM links OpenMP's
# libgomp, which its wheel does not carry; XGBoost's CPU wheel carries its own)
SYSTEM_PACKAGES = {"lightgbm": ("libgomp",)}


def stage_runtime_context() -> Path:
    """A fresh build context holding only what model_runtime/Dockerfile copies."""
    context = Path(tempfile.mkdtemp(prefix="slipway-runtime-context-"))
    copy_sources(RUNTIME_SOURCES, context)
    shutil.copy2(CONSTRAINTS, context / CONSTRAINTS.name)
    return context


def _constraint_pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        if version:
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check_extra_libraries(libraries: list[str]) -> None:
    """An extra library pinned to another version than constraints.txt would fail the image's
    pip install with a resolver conflict minutes into a deploy; say so at synthesis."""
    pins = _constraint_pins()
    conflicts = []
    for library in libraries:
        name, _, version = library.partition("==")
        held = pins.get(_canonical(name))
        if held is not None and held != version:
            conflicts.append(f"{library} (constraints.txt holds {name}=={held})")
    if conflicts:
        raise ConfigError(
            "extra_libraries conflict with the project's constraints, which every image install "
            "follows: " + "; ".join(conflicts) + ". Pin the constraints' version, or move the "
            "pin in pyproject.toml and constraints.txt and run the tests with it."
        )


def runtime_image_code(
    handler: str, architecture: str = "x86_64", extra_libraries: list[str] | None = None
) -> lambda_.DockerImageCode:
    """The runtime image, built from a staged context holding only what the image needs,
    with an endpoint's extra libraries (and the system packages they need) installed."""
    libraries = sorted(extra_libraries or [])
    check_extra_libraries(libraries)
    platform = Platform.LINUX_ARM64 if architecture == "arm64" else Platform.LINUX_AMD64
    packages = sorted(
        {p for library in libraries for p in SYSTEM_PACKAGES.get(library.split("==")[0], ())}
    )
    return lambda_.DockerImageCode.from_image_asset(
        str(stage_runtime_context()),
        file="model_runtime/Dockerfile",
        cmd=[handler],
        platform=platform,
        build_args={
            "EXTRA_REQUIREMENTS": " ".join(libraries),
            "EXTRA_SYSTEM_PACKAGES": " ".join(packages),
        },
    )
