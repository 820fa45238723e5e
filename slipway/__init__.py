"""Slipway: serverless MLOps on AWS. ``slipway`` is the command line; from Python::

    from slipway import package_model
    package_model(fitted_pipeline, name="house-prices", version="3", train=train_df,
                  evaluation=test_df, target="price", metric="rmse", threshold=40_000,
                  out="bundle.tar.gz")

``package_model`` is ``model_runtime.packager.package_model`` (imported on first use, so
``import slipway`` stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["package_model"]


def __getattr__(name: str) -> Any:
    if name == "package_model":
        from model_runtime.packager import package_model

        return package_model
    raise AttributeError(f"module 'slipway' has no attribute {name!r}")
