"""Where Lambda code comes from: which source folders each package holds, and how it is built.

Zip packages are assembled by copying source folders (no Docker, no pip: the control plane
needs only boto3, which the Lambda runtime provides). The model runtime is a container image
outside the embedded cloud; inside it, the same folders ship as a zip and the embedded
cloud's executor supplies the runtime's libraries from the project environment.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_ecr_assets import Platform

REPO_ROOT = Path(__file__).resolve().parent.parent
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")

# Relative paths copied into each package, preserving their place in the repository.
CONTROL_PLANE_SOURCES = ("functions",)
# The runtime package also carries the control plane: serving reads the lineage table through
# functions/lineage, and the registry API (FastAPI) runs on the runtime's libraries.
RUNTIME_SOURCES = ("model_runtime", "functions")


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


def zip_code(sources: tuple[str, ...]) -> lambda_.Code:
    """A zip asset holding ``sources``; its hash is that of the copied output."""
    return lambda_.Code.from_asset(
        str(REPO_ROOT / sources[0].split("/")[0]),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling"),
            local=_CopySources(sources),
        ),
    )


def control_plane_code() -> lambda_.Code:
    return zip_code(CONTROL_PLANE_SOURCES)


def runtime_zip_code() -> lambda_.Code:
    return zip_code(RUNTIME_SOURCES)


def runtime_image_code(handler: str, architecture: str = "x86_64") -> lambda_.DockerImageCode:
    """The runtime image, built from a staged context holding only what the image needs."""
    context = Path(tempfile.mkdtemp(prefix="slipway-runtime-context-"))
    copy_sources(RUNTIME_SOURCES, context)
    platform = Platform.LINUX_ARM64 if architecture == "arm64" else Platform.LINUX_AMD64
    return lambda_.DockerImageCode.from_image_asset(
        str(context), file="model_runtime/Dockerfile", cmd=[handler], platform=platform
    )
