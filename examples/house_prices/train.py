"""House prices: a scikit-learn Pipeline on a pandas DataFrame with a string column.

    python -m examples.house_prices.train --out out/house.tar.gz --version 1
    python -m examples.house_prices.train --out out/house-2.tar.gz --version 2 --extended

A ColumnTransformer imputes and one-hot encodes the city (a string, sometimes missing) and
scales the numbers; the model is fitted on the DataFrame, so the endpoint hands it a
DataFrame with the same dtypes. Version 2 (``--extended``) adds a feature, the distance to
the centre, and is better: it replaces version 1 at the gate, which scores version 1 on its
own columns from version 2's evaluation rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from examples.common import Fitted
from model_runtime.manifest import Manifest
from slipway import package_model

HERE = Path(__file__).parent
TRAIN_CSV, EVALUATION_CSV = HERE / "data" / "train.csv", HERE / "data" / "evaluation.csv"
TARGET = "price"
BASIC = ["city", "area_m2", "rooms", "year_built"]
EXTENDED = [*BASIC, "distance_km"]


def pipeline(features: list[str], max_iter: int) -> Pipeline:
    numbers = [f for f in features if f != "city"]
    prepare = ColumnTransformer(
        [
            (
                "city",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="unknown"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["city"],
            ),
            ("numbers", StandardScaler(), numbers),
        ]
    )
    return Pipeline(
        [
            ("prepare", prepare),
            ("model", HistGradientBoostingRegressor(max_iter=max_iter, random_state=0)),
        ]
    )


def fit(*, extended: bool = False, max_iter: int = 150) -> Fitted:
    """The pipeline fitted on the training DataFrame, with its rmse on the evaluation one."""
    features = EXTENDED if extended else BASIC
    train, evaluation = pd.read_csv(TRAIN_CSV), pd.read_csv(EVALUATION_CSV)
    model = pipeline(features, max_iter).fit(train[features], train[TARGET])
    rmse = mean_squared_error(evaluation[TARGET], model.predict(evaluation[features])) ** 0.5
    return Fitted(
        model,
        features,
        evaluation,
        metrics={"rmse": rmse},
        params={"features": features, "max_iter": max_iter},
    )


def package(
    fitted: Fitted,
    out: Path,
    *,
    name: str = "house-prices",
    version: str = "1",
    threshold: float = 120_000,
) -> Manifest:
    columns = [*fitted.features, TARGET]
    return package_model(
        fitted.model,
        name=name,
        version=version,
        train=pd.read_csv(TRAIN_CSV)[columns],
        evaluation=fitted.evaluation[columns],
        target=TARGET,
        metric="rmse",
        threshold=threshold,
        params=fitted.params,
        metrics=fitted.metrics,
        out=out,
        code_path=HERE,
    )


def train_and_package(
    out: Path,
    *,
    name: str = "house-prices",
    version: str = "1",
    extended: bool = False,
    max_iter: int = 150,
    threshold: float = 120_000,
) -> Manifest:
    fitted = fit(extended=extended, max_iter=max_iter)
    return package(fitted, out, name=name, version=version, threshold=threshold)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/house-prices.tar.gz"))
    parser.add_argument("--version", default="1")
    parser.add_argument("--extended", action="store_true", help="add distance_km")
    parser.add_argument(
        "--max-iter", type=int, default=150, help="boosting rounds (10 makes a worse model)"
    )
    args = parser.parse_args()
    manifest = train_and_package(
        args.out, version=args.version, extended=args.extended, max_iter=args.max_iter
    )
    print(
        f"wrote {args.out}: {manifest.name} {manifest.version}, rmse "
        f"{manifest.lineage.metrics['rmse']:,.0f} on {len(manifest.signature.inputs)} columns"
    )


if __name__ == "__main__":
    main()
