"""Version checks shared by the flavors: a bundle built on another release line is refused,
and so is one whose library this runtime does not have."""

from __future__ import annotations

import importlib
import platform
from importlib import metadata

from model_runtime.exceptions import IncompatibleBundleError

# distributions whose module has another name, or that ship under several names
# (xgboost's CPU-only wheel is the distribution "xgboost-cpu", module "xgboost")
_MODULES = {"scikit-learn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}


def installed_version(library: str) -> str:
    """This runtime's version of ``library`` (a distribution name, or "python")."""
    if library == "python":
        return platform.python_version()
    module = _MODULES.get(library)
    if module is not None:
        try:
            version = getattr(importlib.import_module(module), "__version__", None)
        except ImportError:
            version = None
        if version:
            return str(version)
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        raise IncompatibleBundleError(
            f"this runtime has no {library}: serve the model from an endpoint whose image "
            f"installs it (extra_libraries in cdk.json)"
        ) from None


def require_same_release(library: str, built_with: dict[str, str], parts: int = 1) -> None:
    """Refuse a bundle whose ``library`` version differs from this runtime's in its first
    ``parts`` components (1: the major version; 2: major and minor)."""
    built = built_with.get(library)
    installed = installed_version(library)
    if not built:
        return
    line = ".".join(installed.split(".")[:parts])
    if built.split(".")[:parts] != installed.split(".")[:parts]:
        which = "major versions" if parts == 1 else "release lines"
        raise IncompatibleBundleError(
            f"the bundle was built with {library} {built}; this runtime has {library} "
            f"{installed} ({which} differ): rebuild it with {library} {line}.x"
        )
