"""The monitor job on a baseline the real packager wrote: no hand-built profile anywhere.

GIVEN a scikit-learn pipeline over a pandas frame (numeric columns, a categorical column with
missing values, a free-text column) packaged by ``package_model``, registered and live in
moto, and requests answered by the real serving app, whose capture lines are delivered as
Firehose writes them; WHEN the job runs; THEN a stream with one shifted column is named for
that column alone, and an unshifted stream raises nothing."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from model_runtime.jobs import monitor
from model_runtime.jobs.monitor import Clients, JobRequest, run_monitor
from model_runtime.model_store import ModelStore
from model_runtime.monitoring.baseline import BASELINE_FILE, bundle_baseline
from model_runtime.serving import capture
from model_runtime.serving.handler import app
from registry.environment import ENVIRONMENT_NAME
from registry.monitoring_settings import MONITORING, MonitoringSettings, monitoring_settings
from registry.statuses import ServingRole
from tests.conftest import create_lineage_table
from tests.monitoring_fixtures import MonitoredAccount, put_capture, register_live
from tests.serving.test_handler import LambdaContext, function_url_event

BUCKET = "slipway-unit-artifacts"
FEATURES = ["area", "rooms", "district", "note"]
DISTRICTS = ["north", "south", "east", "west", "centre"]
ADJECTIVES = ["bright", "quiet", "small", "large", "renovated", "sunny", "old", "modern"]
PLACES = ["park", "station", "river", "school", "market", "harbour"]
SETTINGS = MonitoringSettings(window_hours=1, min_rows=100)


def flats(rows: int, seed: int, area_shift: float = 0.0) -> pd.DataFrame:
    """Flats and their prices: area (m², normal 80 ± 20), rooms, a district missing for
    about 8% of them, and a sentence about each."""
    rng = np.random.default_rng(seed)
    area = rng.normal(80, 20, rows).round(1) + area_shift
    rooms = rng.integers(1, 7, rows)
    district = rng.choice(DISTRICTS, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1]).astype(object)
    district[rng.random(rows) < 0.08] = None
    note = [
        f"{rng.choice(ADJECTIVES)} flat with {rng.integers(1, 9)} windows near the "
        f"{rng.choice(PLACES)}, floor {rng.integers(0, 12)}"
        for _ in range(rows)
    ]
    premium = pd.Series(district).map({"centre": 30_000, "north": 10_000}).fillna(0).to_numpy()
    price = 2_000 * area + 8_000 * rooms + premium + rng.normal(0, 5_000, rows)
    return pd.DataFrame(
        {"area": area, "rooms": rooms, "district": district, "note": note, "price": price}
    )


def packaged(tmp_path: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from model_runtime.packager import package_model

    train, evaluation = flats(1000, seed=1), flats(300, seed=2)
    districts = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="none"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    prepare = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["area", "rooms"]),
            ("district", districts, ["district"]),
            ("note", TfidfVectorizer(), "note"),
        ]
    )
    model = make_pipeline(prepare, Ridge()).fit(train[FEATURES], train["price"])
    out = tmp_path / "flats.tar.gz"
    package_model(
        model,
        name="flats",
        version="1",
        train=train,
        evaluation=evaluation,
        target="price",
        metric="rmse",
        threshold=20_000,
        out=out,
    )
    return out


class Account(MonitoredAccount):
    """moto's S3, DynamoDB and EventBridge; the packaged model live; the serving app in front."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(BUCKET, create_lineage_table())
        self.tmp_path = tmp_path
        self.sent = 0

    def send(self, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> list[dict]:
        """The frame's rows through the serving app (25 a request, keyed by feature, as a
        client sends them); the capture lines the endpoint printed."""
        from model_runtime.serving.handler import handler

        capsys.readouterr()
        rows = json.loads(frame[FEATURES].to_json(orient="records"))
        for start in range(0, len(rows), 25):
            self.sent += 1
            event = function_url_event(
                "/v1/models/flats/predict", json.dumps({"inputs": rows[start : start + 25]})
            )
            context = dataclasses.replace(LambdaContext(), aws_request_id=f"req-{self.sent}")
            response = handler(event, context)
            assert response["statusCode"] == 200, response["body"]
        printed = capsys.readouterr().out.splitlines()
        lines = [json.loads(line) for line in printed if line.startswith('{"message":"capture"')]
        assert sum(line["rows"] for line in lines) == len(rows)  # every request captured
        return lines

    def judge(self, lines: list[dict], n: str) -> tuple[dict, dict]:
        """Deliver ``lines`` as Firehose does, run the job over the last hour; its answer
        for the model and the report it wrote."""
        now = datetime.now(UTC)
        put_capture(self.s3, BUCKET, lines, now, n=n)
        clients = Clients(self.s3, self.events, self.repository)
        result = run_monitor(
            clients,
            BUCKET,
            "unit",
            SETTINGS,
            JobRequest(),
            now=now + timedelta(seconds=1),
        ).as_json()
        assert result["failures"] == []
        (judged,) = result["reports"]
        key = judged["report"].split(f"s3://{BUCKET}/", 1)[1]
        return judged, json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monitor._BASELINES.clear()
    monkeypatch.setenv(ENVIRONMENT_NAME, "unit")
    monkeypatch.setenv(MONITORING, json.dumps({"capture_rate": 1.0}))
    monitoring_settings.cache_clear()
    capture._capture_of.cache_clear()
    bundle = packaged(tmp_path)
    with mock_aws():
        account = Account(tmp_path)
        register_live(
            account.s3,
            account.table,
            BUCKET,
            bundle,
            name="flats",
            version="1",
            evaluation={"metric": "rmse", "direction": "minimize", "value": 5_500.0},
            work=tmp_path,
        )
        app.state.model_store = ModelStore(
            account.repository,
            account.s3,
            tmp_path / "cache",
            pointer_ttl_seconds=0,
            model_cache_bytes=10**9,
            role=ServingRole.CANDIDATE,
        )
        try:
            yield account
        finally:
            app.state.model_store = None
    monitoring_settings.cache_clear()
    capture._capture_of.cache_clear()


def test_the_packagers_baseline_profiles_every_kind_of_column(tmp_path: Path):
    from model_runtime.bundle import open_bundle

    bundle = open_bundle(packaged(tmp_path), tmp_path / "opened")  # digests checked
    baseline = bundle_baseline(bundle.root, bundle.manifest)
    assert baseline is not None and BASELINE_FILE in bundle.manifest.files
    kinds = {name: profile.kind for name, profile in baseline.columns.items()}
    assert kinds == {
        "area": "numeric",
        "rooms": "numeric",
        "district": "categorical",
        "note": "text",
    }
    assert 0.05 < baseline.columns["district"].missing_rate < 0.11
    assert list(baseline.outputs) == ["prediction"] and baseline.output_rows == 300


def test_an_unshifted_stream_raises_nothing(account, capsys):
    # GIVEN live traffic drawn as the training data was
    steady = account.send(flats(600, seed=3), capsys)

    # WHEN the job judges it against the packager's baseline
    judged, report = account.judge(steady, "steady")

    # THEN every column and the answers were compared, none drifted, nothing was announced
    assert judged["verdict"] == "ok", report
    assert judged["drifted_columns"] == [] and account.caught() == []
    compared = {c["column"]: c for c in report["columns"] + report["outputs"]}
    assert set(compared) == {*FEATURES, "prediction"}
    assert all(c["status"] == "compared" and c["psi"] is not None for c in compared.values())
    assert compared["district"]["missing_rate_current"] > 0  # missing, and judged as such


def test_a_shifted_column_is_the_one_named(account, capsys):
    # GIVEN live traffic with every flat one standard deviation (20 m²) larger
    shifted = account.send(flats(600, seed=4, area_shift=20.0), capsys)

    # WHEN the job judges it against the packager's baseline
    judged, report = account.judge(shifted, "shifted")

    # THEN the area is named, first, and among the inputs alone; the price the model
    # answers moves with it (its output drifts too), and the drift is announced
    assert judged["verdict"] == "drift", report
    assert judged["drifted_columns"] == ["area", "prediction"]
    assert report["columns"][0]["column"] == "area"
    assert [c["column"] for c in report["columns"] if c["drifted"]] == ["area"]
    (event,) = account.caught()
    assert event["detail-type"] == "Model Drift Detected"
    assert event["detail"]["model"] == "flats"
    assert [c["column"] for c in event["detail"]["columns"]] == ["area", "prediction"]
