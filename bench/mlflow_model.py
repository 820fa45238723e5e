"""Run by the MLflow environment: train the iris pipeline exactly as examples/iris does, save
it in MLflow's format. Kept to the standard library + scikit-learn + mlflow on purpose."""

import csv
import sys

import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

train_csv, out = sys.argv[1], sys.argv[2]
with open(train_csv, newline="") as handle:
    records = list(csv.DictReader(handle))
# a DataFrame, so the model knows the feature names MLflow's dataframe_split sends
x = pd.DataFrame([[float(r[f]) for f in FEATURES] for r in records], columns=FEATURES)
y = np.asarray([int(r["species"]) for r in records])
estimator = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)).fit(x, y)
mlflow.sklearn.save_model(estimator, out)
