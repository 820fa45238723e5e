"""A predictor class shipped inside the bundle: ``Predictor`` in the bundle's model file.

This flavor runs the bundle's own code. That is why it is loaded only from a bundle whose
sha256 matched the registry's digest and whose every file matched its manifest entry: the
code that runs is exactly the code that was reviewed, registered and promoted. The
predictor may import modules it ships by their plain names (``import features``); each
bundle gets its own (``bundle_modules.py``). The class::

    class Predictor:
        def load(self, path: str) -> None: ...        # path: the bundle's root folder
        def predict(self, inputs: list[list]) -> list: ...   # rows in column order
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_runtime.exceptions import ModelLoadError
from model_runtime.flavors.bundle_modules import import_bundle_module
from model_runtime.flavors.compatibility import require_same_release
from model_runtime.manifest import Signature
from model_runtime.model_input import ModelInput

CLASS_NAME = "Predictor"


def check_compatibility(built_with: dict[str, str]) -> None:
    require_same_release("python", built_with)


def load(model_path: Path, bundle_root: Path, signature: Signature) -> Any:
    """Import the predictor as a module of the bundle's private package (its helper modules
    import by their plain names, apart from every other bundle's), then ``load`` it."""
    relative = model_path.resolve().relative_to(bundle_root.resolve()).with_suffix("")
    try:
        module = import_bundle_module(bundle_root, ".".join(relative.parts))
    except Exception as exc:
        raise ModelLoadError(
            f"{model_path.name} could not be imported: {type(exc).__name__}: {exc}"
        ) from None
    predictor_class = getattr(module, CLASS_NAME, None)
    if not isinstance(predictor_class, type):
        raise ModelLoadError(f"{model_path.name} defines no class {CLASS_NAME!r}")
    try:
        predictor = predictor_class()
        predictor.load(str(bundle_root))
    except Exception as exc:
        raise ModelLoadError(
            f"{model_path.name}: {CLASS_NAME}.load failed: {type(exc).__name__}: {exc}"
        ) from None

    numbers_only = all(c.type in ("float", "int") and not c.nullable for c in signature.inputs)

    def predict(model_input: ModelInput) -> list[Any]:
        # rows of JSON values in column order (None for a missing one); numbers-only
        # signatures get the numeric array's rows, as format-1 predictors always did
        rows = model_input.array.tolist() if numbers_only else model_input.rows
        result = predictor.predict(rows)
        if isinstance(result, np.ndarray):
            return result.tolist()
        # numpy scalars in a plain list (np.float32 and friends) are not JSON: unwrap them
        return [value.item() if isinstance(value, np.generic) else value for value in result]

    return predict
