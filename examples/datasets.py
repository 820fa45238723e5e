"""The examples' data: small synthetic datasets with the shapes real teams ship (a string
column, free text, missing values), generated from fixed seeds and committed as CSV, so the
lineage's dataset digests stay the same from run to run.

    python -m examples.datasets        # writes every examples/*/data/*.csv again
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
CITIES = ["paris", "lyon", "nantes", "lille", "bordeaux"]
CITY_PRICE = {
    "paris": 9000.0,
    "lyon": 5000.0,
    "nantes": 3800.0,
    "lille": 3300.0,
    "bordeaux": 4600.0,
}


def house_prices(rows: int, seed: int) -> pd.DataFrame:
    """Flats: a string city (sometimes missing), area, rooms, a build year, a distance to
    the centre (the feature the second version adds); the price in euros."""
    rng = np.random.default_rng(seed)
    city = rng.choice(CITIES, rows, p=[0.3, 0.2, 0.2, 0.15, 0.15])
    area = rng.gamma(6.0, 11.0, rows).round(1) + 15
    rooms = np.clip((area / 22 + rng.normal(0, 0.6, rows)).round(), 1, 8).astype(int)
    year = rng.integers(1900, 2024, rows)
    distance = rng.gamma(2.0, 2.5, rows).round(2)
    per_m2 = np.array([CITY_PRICE[c] for c in city])
    price = (
        area * per_m2 * np.exp(-0.06 * distance)
        + 4000 * rooms
        + 60 * (year - 1900)
        + rng.normal(0, 12000, rows)
    ).round(-2)
    frame = pd.DataFrame(
        {
            "city": city,
            "area_m2": area,
            "rooms": rooms,
            "year_built": year,
            "distance_km": distance,
            "price": price,
        }
    )
    frame.loc[rng.random(rows) < 0.04, "city"] = None
    return frame


SPAM = [
    "win a free {prize} now",
    "claim your {prize} before midnight",
    "you have been selected for a {prize}",
    "cheap {thing} limited offer click here",
    "urgent your account needs verification click the link",
    "earn money from home with this {thing}",
]
HAM = [
    "are we still meeting for {meal} tomorrow",
    "the {doc} for the review is attached",
    "can you send me the {doc} before friday",
    "thanks for the {meal} yesterday",
    "the build failed again on the {thing} branch",
    "see you at the {meal} with the team",
]
FILL = {
    "prize": ["cruise", "phone", "gift card", "laptop", "vacation"],
    "thing": ["watches", "pills", "course", "main", "release"],
    "meal": ["lunch", "dinner", "coffee", "breakfast"],
    "doc": ["report", "slides", "contract", "notes"],
}


def spam(rows: int, seed: int) -> pd.DataFrame:
    """Short messages, labelled "spam" or "ham" (string labels)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(rows):
        is_spam = rng.random() < 0.4
        template = str(rng.choice(SPAM if is_spam else HAM))
        words = {key: str(rng.choice(values)) for key, values in FILL.items()}
        text = template.format(**words)
        if rng.random() < 0.1:  # some noise: a ham word in spam and the other way round
            text += " " + str(rng.choice(["report", "free", "team", "offer"]))
        texts.append(text)
        labels.append("spam" if is_spam else "ham")
    return pd.DataFrame({"text": texts, "label": labels})


def churn(rows: int, seed: int) -> pd.DataFrame:
    """Customers: a plan that may be missing, tenure and support calls with gaps (integers
    that may be missing), monthly charges, paperless billing; churned 0/1."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 72, rows).astype(float)
    calls = rng.poisson(1.5, rows).astype(float)
    charges = (
        np.select([plan == "basic", plan == "plus"], [25.0, 55.0], 90.0) + rng.normal(0, 6, rows)
    ).round(2)
    paperless = rng.random(rows) < 0.6
    risk = -2.0 + 0.6 * calls - 0.05 * tenure + 0.02 * charges + 0.5 * paperless
    churned = (rng.random(rows) < 1 / (1 + np.exp(-risk))).astype(int)
    frame = pd.DataFrame(
        {
            "plan": plan,
            "tenure_months": tenure,
            "support_calls": calls,
            "monthly_charges": charges,
            "paperless": paperless,
            "churned": churned,
        }
    )
    frame.loc[rng.random(rows) < 0.05, "plan"] = None
    frame.loc[rng.random(rows) < 0.08, "tenure_months"] = np.nan
    frame.loc[rng.random(rows) < 0.08, "support_calls"] = np.nan
    frame["tenure_months"] = frame["tenure_months"].astype("Int64")
    frame["support_calls"] = frame["support_calls"].astype("Int64")
    return frame


def credit(rows: int, seed: int) -> pd.DataFrame:
    """Loan applications, numbers only with gaps (XGBoost takes missing values as they
    are); defaulted 0/1."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.5, rows).round(-2)
    debt_ratio = rng.beta(2, 5, rows).round(3)
    age = rng.integers(21, 75, rows).astype(float)
    late = rng.poisson(0.6, rows).astype(float)
    score = -1.0 + 4.0 * debt_ratio + 0.8 * late - 0.00002 * income - 0.01 * age
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-score))).astype(int)
    frame = pd.DataFrame(
        {
            "income": income,
            "debt_ratio": debt_ratio,
            "age": age,
            "late_payments": late,
            "defaulted": defaulted,
        }
    )
    frame.loc[rng.random(rows) < 0.06, "income"] = np.nan
    frame.loc[rng.random(rows) < 0.06, "late_payments"] = np.nan
    return frame


DATASETS = {
    "house_prices": house_prices,
    "spam": spam,
    "churn": churn,
    "credit_xgboost": credit,
}


def data_dir(example: str) -> Path:
    return HERE / example / "data"


def write_all() -> None:
    for example, make in DATASETS.items():
        folder = data_dir(example)
        folder.mkdir(parents=True, exist_ok=True)
        make(800, seed=7).to_csv(folder / "train.csv", index=False)
        make(250, seed=11).to_csv(folder / "evaluation.csv", index=False)


if __name__ == "__main__":
    write_all()
