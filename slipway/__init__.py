"""Slipway: serverless MLOps on AWS. ``slipway`` is the command line; from Python::

    from slipway import package_model
    package_model(fitted_pipeline, name="house-prices", version="3", train=train_df,
                  evaluation=test_df, target="price", metric="rmse", threshold=40_000,
                  out="bundle.tar.gz")

Data read from S3 is fetched once and recorded by object version and ETag::

    from slipway import fetch_dataset
    train = fetch_dataset("s3://acme-data/churn/train.csv", directory="data")
    model.fit(...pd.read_csv(train.path)...)
    package_model(model, train=train, ...)      # not downloaded again

``package_model`` is ``model_runtime.packager.package_model`` and ``fetch_dataset``
``model_runtime.s3_datasets.fetch_dataset`` (imported on first use, so ``import slipway``
stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["fetch_dataset", "package_model"]


def __getattr__(name: str) -> Any:
    if name == "package_model":
        from model_runtime.packager import package_model

        return package_model
    if name == "fetch_dataset":
        from model_runtime.s3_datasets import fetch_dataset

        return fetch_dataset
    raise AttributeError(f"module 'slipway' has no attribute {name!r}")
