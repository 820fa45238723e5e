"""Version checks shared by the flavors: a bundle built on another release line is refused."""

from __future__ import annotations

import platform
from importlib import metadata

from model_runtime.exceptions import IncompatibleBundleError


def require_same_release(library: str, built_with: dict[str, str], parts: int = 1) -> None:
    """Refuse a bundle whose ``library`` version differs from this runtime's in its first
    ``parts`` components (1: the major version; 2: major and minor)."""
    built = built_with.get(library)
    installed = platform.python_version() if library == "python" else metadata.version(library)
    if not built:
        return
    line = ".".join(installed.split(".")[:parts])
    if built.split(".")[:parts] != installed.split(".")[:parts]:
        which = "major versions" if parts == 1 else "release lines"
        raise IncompatibleBundleError(
            f"the bundle was built with {library} {built}; this runtime has {library} "
            f"{installed} ({which} differ): rebuild it with {library} {line}.x"
        )
