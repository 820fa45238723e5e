"""Version checks shared by the flavors: a bundle built on another major version is refused."""

from __future__ import annotations

import platform
from importlib import metadata

from model_runtime.exceptions import IncompatibleBundleError


def require_same_major(library: str, built_with: dict[str, str]) -> None:
    """Refuse a bundle whose ``library`` major version differs from this runtime's."""
    built = built_with.get(library)
    installed = platform.python_version() if library == "python" else metadata.version(library)
    if built and built.split(".")[0] != installed.split(".")[0]:
        raise IncompatibleBundleError(
            f"the bundle was built with {library} {built}; this runtime has {library} "
            f"{installed} (major versions differ): rebuild it with {library} "
            f"{installed.split('.')[0]}.x"
        )
