"""Whether this machine's Docker engine can build the runtime image for every architecture.

An image's ``RUN`` steps execute on the build machine, so an arm64 endpoint built on an x86_64
Linux engine needs QEMU registered with the kernel's binfmt_misc (and the reverse for x86_64 on
arm64); without it the first ``RUN`` fails with "exec format error" minutes into a deploy.
The check runs when the CDK app starts and only warns: Docker Desktop and some BuildKit
builders bring their own emulation, which this machine cannot see.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from infra.config import EnvironmentConfig

BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")
# platform.machine() spellings -> Lambda's names
_HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# the binfmt_misc entry that lets the kernel run a foreign architecture's binaries
_EMULATOR = {"arm64": "qemu-aarch64", "x86_64": "qemu-x86_64"}
_INSTALL_NAME = {"arm64": "arm64", "x86_64": "amd64"}


def image_architectures(config: EnvironmentConfig) -> dict[str, list[str]]:
    """Which architectures the environment's images are built for, and what needs each.

    The workflow's model steps run on x86_64; each endpoint on its own architecture."""
    if config.embedded:
        return {}
    needed: dict[str, list[str]] = {"x86_64": ["the promotion workflow's model steps"]}
    for endpoint in config.endpoints:
        needed.setdefault(endpoint.architecture, []).append(f"endpoint '{endpoint.name}'")
    return needed


def emulation_warnings(
    config: EnvironmentConfig,
    *,
    machine: str | None = None,
    system: str = sys.platform,
    binfmt_misc: Path = BINFMT_MISC,
) -> list[str]:
    """One warning per architecture this Linux machine can neither run nor emulate."""
    if system != "linux":
        return []
    host = _HOST_ARCHITECTURE.get((machine or platform.machine()).lower())
    if host is None:
        return []
    warnings = []
    for architecture, users in sorted(image_architectures(config).items()):
        if architecture == host or (binfmt_misc / _EMULATOR[architecture]).exists():
            continue
        warnings.append(
            f"{', '.join(users)} of environment '{config.name}' run on {architecture}, but this "
            f"machine is {host} and has no {architecture} emulation registered: Docker may fail "
            f"on the runtime image's first RUN step with 'exec format error'. Register QEMU once "
            f"with `docker run --privileged --rm tonistiigi/binfmt --install "
            f"{_INSTALL_NAME[architecture]}`, or deploy from a {architecture} machine "
            f"(docs/deploy.md, 'Endpoints on arm64')."
        )
    return warnings
