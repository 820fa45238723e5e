"""Loading a dedicated endpoint's models while Lambda initialises a provisioned environment.

Provisioned concurrency exists so that requests never wait for initialisation; if the
models were still loaded by the first request, that request would pay the download, the
verification and the heavy imports anyway. Lambda says which kind of initialisation is
running in ``AWS_LAMBDA_INITIALIZATION_TYPE``. The default endpoint serves every model, so
there is nothing specific to load for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import FastAPI

from model_runtime.serving.dependencies import get_model_store
from model_runtime.serving.metrics import logger
from model_runtime.serving.settings import get_settings

PROVISIONED = "provisioned-concurrency"


def is_provisioned(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == PROVISIONED


def warm_up(app: FastAPI, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Load the live version of each served model; return "name version" of those loaded.

    A model that cannot be loaded is logged and skipped: a failed initialisation would
    take the environment down, while the first request can still retry and answer why.
    """
    served = [name for name in get_settings().served_models.split(",") if name]
    if not is_provisioned(environ) or not served:
        return []
    if app.state.model_store is None:
        app.state.model_store = get_model_store()
    loaded = []
    for name in served:
        try:
            model = app.state.model_store.model(name)
        except Exception:
            logger.exception("could not load %s while initialising", name)
            continue
        loaded.append(f"{name} {model.version}")
    logger.info("models loaded while initialising", extra={"models": loaded})
    return loaded
