"""Importing a bundle's own Python modules without letting two bundles share one.

A python-flavor bundle may ship helper modules next to ``predictor.py`` and import them by
their plain names (``import features``). Putting the bundle on ``sys.path`` would make the
first bundle's ``features`` the one every later bundle gets in the same process (one warm
Lambda worker serves many models). Instead each loaded bundle becomes a private package,
``slipway_bundle_<id>``, whose ``__path__`` is the bundle's folder; the bundle's modules are
executed with an ``__import__`` that resolves the names of the bundle's own top-level
modules and packages inside that private package, and everything else as usual.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

_finders: dict[str, _BundleFinder] = {}
_lock = threading.Lock()


def import_bundle_module(bundle_root: Path, module: str) -> ModuleType:
    """Import ``module`` (e.g. ``predictor``) of the bundle at ``bundle_root``, afresh."""
    root = bundle_root.resolve()
    package = "slipway_bundle_" + hashlib.sha256(str(root).encode()).hexdigest()[:16]
    with _lock:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]  # a reload of the same folder starts clean
        finder = _finders.get(package)
        if finder is None:
            finder = _finders[package] = _BundleFinder(package, root)
            sys.meta_path.insert(0, finder)
        holder = ModuleType(package)
        holder.__path__ = [str(root)]
        holder.__package__ = package
        sys.modules[package] = holder
    return importlib.import_module(f"{package}.{module}")


class _BundleFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of one bundle's private package, and loads them with the bundle's
    own ``__import__``."""

    def __init__(self, package: str, root: Path) -> None:
        self.package = package
        self.root = root
        self.builtins = {**builtins.__dict__, "__import__": self._import}

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path or [str(self.root)])
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _BundleLoader(spec.loader.name, spec.loader.path, self.builtins)
        return spec

    def _local(self, top: str) -> bool:
        return (self.root / f"{top}.py").is_file() or (self.root / top / "__init__.py").is_file()

    def _import(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        top = name.split(".")[0]
        if level == 0 and top and self._local(top):
            imported = importlib.import_module(f"{self.package}.{name}")
            return imported if fromlist else importlib.import_module(f"{self.package}.{top}")
        return builtins.__import__(name, globals, locals, fromlist, level)


class _BundleLoader(importlib.machinery.SourceFileLoader):
    """Executes a bundle module with the bundle's ``__import__``; writes no bytecode next to
    the verified files."""

    def __init__(self, fullname: str, path: str, bundle_builtins: dict[str, Any]) -> None:
        super().__init__(fullname, path)
        self._builtins = bundle_builtins

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__builtins__"] = self._builtins
        code = self.get_code(module.__name__)
        exec(code, module.__dict__)

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:
        return None  # no __pycache__ among the bundle's files
