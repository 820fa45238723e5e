"""The monitor job against moto: captured objects as Firehose writes them, a real iris bundle
with its baseline, the registry's live pointer, an EventBridge rule catching the events.

GIVEN a live version and a window of captured traffic, WHEN the job runs, THEN its report
(S3 and registry), metrics and events say what the traffic did."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from model_runtime.jobs import monitor
from model_runtime.jobs.monitor import Clients, JobRequest, Limits, run_monitor
from registry.monitoring_reports import EVENT_SOURCE, report_key
from registry.monitoring_settings import MonitoringSettings
from tests.conftest import create_lineage_table
from tests.monitoring_fixtures import (
    MonitoredAccount,
    capture_lines,
    iris_requests,
    put_capture,
    rebundle,
    register_live,
)

BUCKET = "slipway-unit-artifacts"
END = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
SETTINGS = MonitoringSettings(window_hours=2, min_rows=50, psi_alarm=0.2)


class Account(MonitoredAccount):
    def __init__(self, tmp_path: Path, iris: Path) -> None:
        super().__init__(BUCKET, create_lineage_table())
        self.tmp_path = tmp_path
        self.iris = iris

    def live_model(
        self, name: str, version: str, *, baseline: bool = True, accuracy: float = 0.9
    ) -> None:
        bundle = rebundle(self.iris, self.tmp_path / f"{name}-{version}.tar.gz", baseline=baseline)
        register_live(
            self.s3,
            self.table,
            BUCKET,
            bundle,
            name=name,
            version=version,
            evaluation={"metric": "accuracy", "direction": "maximize", "value": accuracy},
            work=self.tmp_path,
            at=END.isoformat(),
        )

    def canary(self, name: str, *, live: str, canary: str) -> None:
        """``canary`` takes a share of ``name``'s live traffic beside ``live``."""
        self.table.update_item(
            Key={"pk": f"MODEL#{name}", "sk": "STAGE#live"},
            UpdateExpression="SET version = :v, canary_version = :c",
            ExpressionAttributeValues={":v": live, ":c": canary},
        )

    def run(
        self,
        request: JobRequest | None = None,
        settings: MonitoringSettings = SETTINGS,
        **kwargs: Any,
    ) -> dict[str, Any]:
        clients = Clients(self.s3, self.events, self.repository)
        result = run_monitor(
            clients, BUCKET, "unit", settings, request or JobRequest(), now=END, **kwargs
        )
        return result.as_json()

    def report(self, name: str, version: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=BUCKET, Key=report_key(name, version, END))["Body"]
        return json.loads(body.read())


@pytest.fixture
def account(tmp_path: Path, iris_bundle, monkeypatch: pytest.MonkeyPatch):
    monitor._BASELINES.clear()
    with mock_aws():
        yield Account(tmp_path, iris_bundle[0])


def traffic(account: Account, name: str, version: str, shift=None, count=200, seed=1) -> list:
    """Captured requests of one version, half an hour before the window's end, in an object
    of their own."""
    requests = iris_requests(count, seed, shift)
    at = END - timedelta(minutes=30)
    lines = capture_lines(requests, name, version, at)
    put_capture(account.s3, BUCKET, lines, END, n=f"{name}-{version}-{seed}")
    return requests


def test_a_shifted_column_is_named_reported_counted_and_announced(account, capsys):
    account.live_model("iris", "1")
    traffic(account, "iris", "1", shift={"petal_length": 2.5})

    answer = account.run()

    (judged,) = answer["reports"]
    assert judged["verdict"] == "drift"
    assert "petal_length" in judged["drifted_columns"]
    assert "sepal_width" not in judged["drifted_columns"]
    report = account.report("iris", "1")
    assert report["rows"] == 200 and report["columns"][0]["column"] == "petal_length"
    assert report["report"] == f"s3://{BUCKET}/{report_key('iris', '1', END)}"
    (summary,) = account.repository.monitor_reports("iris", "1")
    assert summary["verdict"] == "drift" and summary["top_columns"][0]["column"] == "petal_length"
    (event,) = account.caught()
    assert event["detail-type"] == "Model Drift Detected"
    assert event["source"] == EVENT_SOURCE
    assert event["detail"]["model"] == "iris" and event["detail"]["environment"] == "unit"
    assert "petal_length" in [c["column"] for c in event["detail"]["columns"]]
    assert event["detail"]["report"] == report["report"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (run,) = [line for line in lines if "VersionsDrifting" in line]
    assert run["VersionsDrifting"] == [1.0] or run["VersionsDrifting"] == 1
    (per_version,) = [line for line in lines if "MaxPsi" in line]
    assert per_version["version"] == "1" and per_version["environment"] == "unit"


def test_unshifted_traffic_is_ok_and_raises_nothing(account):
    account.live_model("iris", "1")
    traffic(account, "iris", "1")

    (judged,) = account.run()["reports"]

    assert judged["verdict"] == "ok" and judged["drifted_columns"] == []
    assert account.caught() == []


def test_the_environments_missing_rate_and_unseen_alarms_judge_the_traffic(account):
    """cdk.json's monitoring section sets all three drift alarms; the job judges by them."""
    account.live_model("iris", "1")
    requests = iris_requests(200, 4)
    for n, request in enumerate(requests):
        row = request["inputs"][0]
        if n % 5 == 0:  # a fifth of the rows lose their petal width
            row[3] = None
        if n % 50 == 0:  # 2% of the rows have a sepal length training never saw (max 7.9)
            row[0] = 8.4
    at = END - timedelta(minutes=30)
    put_capture(account.s3, BUCKET, capture_lines(requests, "iris", "1", at), END)
    tolerant_of_gaps = MonitoringSettings.model_validate(
        {"window_hours": 2, "min_rows": 50, "missing_rate_alarm": 0.5, "unseen_alarm": 0.01}
    )

    # WHEN the job runs at the default alarms (0.1 each)
    (judged,) = account.run()["reports"]
    # THEN the missing petal widths are drift, the few unseen sepal lengths are not
    assert judged["verdict"] == "drift" and judged["drifted_columns"] == ["petal_width"]
    report = account.report("iris", "1")
    (width,) = [c for c in report["columns"] if c["column"] == "petal_width"]
    assert width["reasons"] == ["missing rate rose by 0.200 (>= 0.1)"]

    # WHEN an environment tolerates gaps but no unseen values
    (judged,) = account.run(settings=tolerant_of_gaps)["reports"]
    # THEN it is the other way round, and the report says which alarms judged it
    assert judged["drifted_columns"] == ["sepal_length"]
    report = account.report("iris", "1")
    (length,) = [c for c in report["columns"] if c["column"] == "sepal_length"]
    assert length["reasons"] == ["unseen share 0.020 >= 0.01"]
    assert report["thresholds"]["missing_rate_alarm"] == 0.5
    assert report["thresholds"]["unseen_alarm"] == 0.01


def test_feedback_of_both_forms_gives_the_live_metric_and_a_drop_is_announced(account):
    account.live_model("iris", "1", accuracy=0.95)
    requests = traffic(account, "iris", "1")
    # half the labels through the endpoint's feedback lines, half in a bulk file; every
    # label says the model was wrong
    wrong = [((r["request_id"], 0), (r["labels"][0] + 1) % 3) for r in requests[:60]]
    lines = [
        {
            "message": "feedback",
            "capture_format": 1,
            "model": "iris",
            "environment": "unit",
            "time_ms": 0,
            "labels": [
                {"request_id": rid, "row": row, "label": label} for (rid, row), label in wrong[:30]
            ],
        }
    ]
    account.s3.put_object(
        Bucket=BUCKET,
        Key="feedback/2026/12/07/10/slipway-feedback-1.gz",
        Body=gzip.compress((json.dumps(lines[0]) + "\n").encode()),
    )
    bulk = "".join(
        json.dumps({"model": "iris", "request_id": rid, "row": row, "label": label}) + "\n"
        for (rid, row), label in wrong[30:]
    )
    account.s3.put_object(Bucket=BUCKET, Key="feedback/labels-from-crm.jsonl", Body=bulk.encode())

    (judged,) = account.run()["reports"]

    quality = judged["quality"]
    assert quality["labelled_rows"] == 60 and quality["live_value"] == 0.0
    assert quality["evaluation_value"] == 0.95 and quality["degraded"] is True
    assert judged["verdict"] == "quality"
    (event,) = account.caught()
    assert event["detail-type"] == "Model Quality Degraded"
    assert event["detail"]["quality"]["metric"] == "accuracy"


def test_right_labels_measure_the_live_metric_without_alarm(account):
    account.live_model("iris", "1", accuracy=0.95)
    requests = traffic(account, "iris", "1")
    bulk = "".join(
        json.dumps({"model": "iris", "request_id": r["request_id"], "label": r["labels"][0]}) + "\n"
        for r in requests[:40]
    )
    account.s3.put_object(
        Bucket=BUCKET, Key="feedback/bulk.jsonl.gz", Body=gzip.compress(bulk.encode())
    )

    (judged,) = account.run()["reports"]

    assert judged["quality"]["live_value"] == 1.0 and judged["quality"]["degraded"] is False
    assert judged["verdict"] == "ok"


def test_a_bundle_without_baseline_says_so(account):
    account.live_model("iris", "1", baseline=False)
    traffic(account, "iris", "1", shift={"petal_length": 2.5})

    (judged,) = account.run()["reports"]

    assert judged["verdict"] == "no_baseline" and judged["max_psi"] is None
    assert account.caught() == []


def test_too_few_rows_give_no_verdict(account):
    account.live_model("iris", "1")
    traffic(account, "iris", "1", shift={"petal_length": 2.5}, count=20)

    (judged,) = account.run()["reports"]

    assert judged["verdict"] == "no_traffic" and judged["drifted_columns"] == []


def test_traffic_outside_the_window_and_of_other_versions_is_not_judged(account):
    account.live_model("iris", "1")
    traffic(account, "iris", "1", count=100)
    early = iris_requests(300, 7, {"petal_length": 2.5})
    before = END - timedelta(hours=3)
    put_capture(account.s3, BUCKET, capture_lines(early, "iris", "1", before), before)
    other = capture_lines(iris_requests(300, 8, {"petal_length": 2.5}), "iris", "0", END)
    put_capture(account.s3, BUCKET, other, END, n=1)

    (judged,) = account.run()["reports"]

    assert judged["verdict"] == "ok"
    assert account.report("iris", "1")["rows"] == 100


def test_capture_lines_with_fields_of_the_wrong_kind_are_passed_over(account):
    """Lines in the bucket are data: a model named by a list (unhashable), a version, time or
    inputs of the wrong kind, pass over without failing the run."""
    account.live_model("iris", "1")
    traffic(account, "iris", "1", count=100)
    good = capture_lines(iris_requests(1, 9), "iris", "1", END - timedelta(minutes=20))[0]
    odd = [
        {**good, "model": ["iris"]},
        {**good, "model": {"name": "iris"}},
        {**good, "model": 1},
        {**good, "version": ["1"]},
        {**good, "time_ms": "soon"},
        {**good, "time_ms": None},
        {**good, "inputs": {"sepal_length": 1.0}},
        {**good, "inputs": None},
        {**good, "message": ["capture"]},
    ]
    put_capture(account.s3, BUCKET, odd, END, n="odd")

    answer = account.run()

    assert answer["failures"] == []
    assert account.report("iris", "1")["rows"] == 100


def test_running_a_window_again_overwrites_its_report(account):
    account.live_model("iris", "1")
    traffic(account, "iris", "1")

    account.run()
    account.run()

    assert len(account.repository.monitor_reports("iris", "1")) == 1
    listed = account.s3.list_objects_v2(Bucket=BUCKET, Prefix="monitoring/")["Contents"]
    assert [o["Key"] for o in listed] == [report_key("iris", "1", END)]


def test_one_failing_model_costs_no_other_its_report(account):
    account.live_model("iris", "1")
    account.live_model("broken", "1")
    # the registered object version is gone: the broken model's baseline cannot be read
    versions = account.s3.list_object_versions(Bucket=BUCKET, Prefix="models/broken/")
    for version in versions["Versions"]:
        account.s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    traffic(account, "iris", "1")
    traffic(account, "broken", "1")

    answer = account.run()

    assert [r["model"] for r in answer["reports"]] == ["iris"]
    (failure,) = answer["failures"]
    assert failure["model"] == "broken" and failure["error"]


def test_failures_are_counted_for_their_alarm_and_a_failed_announcement_keeps_the_report(
    account, capsys, monkeypatch
):
    account.live_model("iris", "1")
    traffic(account, "iris", "1", shift={"petal_length": 2.5})

    def refuse(events, report):
        raise RuntimeError("EventBridge throttled")

    monkeypatch.setattr(monitor, "publish_events", refuse)
    answer = account.run()

    (judged,) = answer["reports"]  # written, and counted as drifting
    assert judged["verdict"] == "drift"
    assert "throttled" in answer["failures"][0]["error"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (run,) = [line for line in lines if "VersionsDrifting" in line]
    assert run["VersionsDrifting"] in ([1.0], 1)
    (failures,) = [line for line in lines if "MonitorFailures" in line]
    assert failures["MonitorFailures"] in ([1.0], 1)


def test_a_run_stops_reading_at_its_limits_and_says_so(account):
    account.live_model("iris", "1", accuracy=0.95)
    requests = traffic(account, "iris", "1", count=100)
    labels = "".join(
        json.dumps({"model": "iris", "request_id": r["request_id"], "label": r["labels"][0]}) + "\n"
        for r in requests
    )
    account.s3.put_object(Bucket=BUCKET, Key="feedback/bulk.jsonl", Body=labels.encode())

    answer = account.run(limits=Limits(max_rows=60, max_objects=1))

    assert "60" in answer["truncated"]
    assert account.report("iris", "1")["truncated"] == answer["truncated"]
    # the captured rows that fit are judged, and the labels still read
    (judged,) = answer["reports"]
    assert 0 < judged["quality"]["labelled_rows"] <= 60


def test_one_model_on_demand_and_its_canary(account, capsys):
    account.live_model("iris", "1")
    account.live_model("other", "1")
    account.live_model("iris", "2")
    account.canary("iris", live="1", canary="2")
    traffic(account, "iris", "1")
    traffic(account, "iris", "2", shift={"sepal_width": 2.0}, seed=3)

    answer = account.run(JobRequest(model="iris"))

    by_version = {r["version"]: r for r in answer["reports"]}
    assert set(by_version) == {"1", "2"}
    assert by_version["2"]["role"] == "canary" and by_version["2"]["verdict"] == "drift"
    assert by_version["1"]["verdict"] == "ok"
    # a run for one model says nothing about the environment's count (another model may drift)
    assert "VersionsDrifting" not in capsys.readouterr().out


def test_the_schedule_s_request_parses():
    request = JobRequest.model_validate({"window_end": "2026-12-07T10:00:00Z"})
    assert request.window_end == datetime(2026, 12, 7, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        JobRequest.model_validate({"model": "Not A Name"})


def test_a_scheduled_window_ends_before_traffic_still_on_its_way(account):
    """Firehose buffers up to five minutes: a scheduled run judges up to its scheduled time
    less the delivery lag, and the next window starts where this one ended."""
    from infra.monitor_job import SCHEDULED_INPUT

    account.live_model("iris", "1")
    traffic(account, "iris", "1")  # half an hour before END
    late = capture_lines(iris_requests(100, 9, None), "iris", "1", END - timedelta(minutes=2))
    put_capture(account.s3, BUCKET, late, END, n="late")
    scheduled = json.loads(
        json.dumps(SCHEDULED_INPUT).replace("<aws.scheduler.scheduled-time>", END.isoformat())
    )
    lag = scheduled["delivery_lag_seconds"]
    assert lag >= 300  # Firehose's buffer interval, and more

    answer = account.run(JobRequest.model_validate(scheduled))

    assert answer["window"]["end"] == (END - timedelta(seconds=lag)).isoformat()
    (judged,) = answer["reports"]
    key = judged["report"].split(f"s3://{BUCKET}/", 1)[1]
    report = json.loads(account.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert report["rows"] == 200  # the late minutes wait for the next window


def test_an_object_too_big_to_read_whole_is_skipped_and_counted(account):
    account.live_model("iris", "1")
    traffic(account, "iris", "1")
    account.s3.put_object(Bucket=BUCKET, Key="feedback/huge.jsonl", Body=b"x" * 5000)

    answer = account.run(limits=Limits(max_object_bytes=4000))

    assert answer["read"]["oversized_objects"] == 1
    assert account.report("iris", "1")["rows"] == 200


def test_a_run_holds_what_its_memory_holds():
    assert Limits.for_memory(3008).max_rows == 601_600
    assert Limits.for_memory(10240).max_rows > Limits.for_memory(3008).max_rows
    assert Limits.for_memory(128).max_rows == 25_600


def test_objects_are_read_ahead_in_listing_order_and_stopping_early_ends_the_reads():
    """The window's objects are fetched and decompressed a few at a time by threads; the
    parser still gets them in listing order (the row limit keeps the oldest), and a read
    stopped early leaves no fetch running."""
    import threading

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="reads")
        bodies = [f'{{"n": {n}}}\n'.encode() for n in range(12)]
        for n, body in enumerate(bodies):  # gzip and plain, as AWS's deliveries may be
            s3.put_object(
                Bucket="reads", Key=f"p/{n:02d}", Body=gzip.compress(body) if n % 2 else body
            )
        budget = monitor._Budget(Limits())
        read = monitor._objects(s3, "reads", monitor._listed(s3, "reads", "p/", budget))
        assert [next(read).text for _ in range(5)] == bodies[:5]
        read.close()
        assert not [t for t in threading.enumerate() if t.name.startswith("slipway-monitor-read")]
        whole = monitor._objects(
            s3, "reads", monitor._listed(s3, "reads", "p/", monitor._Budget(Limits()))
        )
        assert [opened.text for opened in whole] == bodies


def test_an_answer_of_several_values_a_row_gets_no_live_metric_and_keeps_its_report(account):
    """Class probabilities are no label's match: the report stands, without a live metric
    (the join was once given no predictions for these rows, and failed the version)."""
    account.live_model("iris", "1", accuracy=0.95)
    requests = iris_requests(200, 1)
    for request in requests:
        request["labels"] = [[0.1, 0.2, 0.7] for _ in request["inputs"]]
    at = END - timedelta(minutes=30)
    put_capture(account.s3, BUCKET, capture_lines(requests, "iris", "1", at), END, n="probs")
    bulk = "".join(
        json.dumps({"model": "iris", "request_id": r["request_id"], "label": 2}) + "\n"
        for r in requests[:40]
    )
    account.s3.put_object(Bucket=BUCKET, Key="feedback/bulk.jsonl", Body=bulk.encode())

    answer = account.run()

    assert answer["failures"] == []
    (judged,) = answer["reports"]
    assert judged["quality"] is None
    assert account.report("iris", "1")["rows"] == 200


SAME_IN_EVERY_RUN = ("generated_at",)


def window_of_objects(account, objects: int = 6, per_object: int = 60) -> None:
    """Captured traffic in several objects, some with a shifted column, some rows labelled."""
    account.live_model("iris", "1")
    for n in range(objects):
        shift = {"petal_length": 2.5} if n % 2 else None
        requests = iris_requests(per_object, seed=n, shift=shift, rows_per_request=1 + n % 2)
        at = END - timedelta(minutes=90 - 10 * n)
        put_capture(account.s3, BUCKET, capture_lines(requests, "iris", "1", at), at, n=n)
        labels = "".join(
            json.dumps({"model": "iris", "request_id": r["request_id"], "label": r["labels"][0]})
            + "\n"
            for r in requests[::3]
        )
        account.s3.put_object(Bucket=BUCKET, Key=f"feedback/bulk-{n}.jsonl", Body=labels.encode())


def report_without_time(account) -> dict[str, Any]:
    report = account.report("iris", "1")
    return {k: v for k, v in report.items() if k not in SAME_IN_EVERY_RUN}


def test_two_readers_write_the_report_one_reader_writes(account):
    window_of_objects(account)

    one = account.run(readers=1)
    by_one = report_without_time(account)
    two = account.run(readers=2)
    by_two = report_without_time(account)

    assert by_two == by_one
    assert by_one["rows"] == 3 * 60 + 3 * 120 and by_one["verdict"] == "drift"
    assert by_one["quality"]["labelled_rows"] == 6 * 20
    assert two["read"] == one["read"] and two["read"]["objects"] == 6 + 6  # and feedback
    assert not one["failures"] and not two["failures"]


def test_each_reader_holds_its_part_of_the_row_limit(account):
    window_of_objects(account)

    answer = account.run(readers=3, limits=Limits(max_rows=150))

    assert "150" in answer["truncated"]
    (judged,) = answer["reports"]
    rows = account.report("iris", "1")["rows"]
    assert 0 < rows <= 150
    assert judged["verdict"] in ("drift", "ok")


def test_two_and_three_readers_agree_with_one_on_a_canary_of_mixed_rows(account):
    """Live and canary traffic mixed in every object; rows sent as lists, as objects, several
    to a request; a column the capture left out: every reader count writes the same reports."""
    from tests.monitoring_fixtures import FEATURES

    account.live_model("iris", "1")
    account.live_model("iris", "2")
    account.canary("iris", live="1", canary="2")
    for n in range(7):
        at = END - timedelta(minutes=90 - 10 * n)
        lines = []
        for version in ("1", "2"):
            shift = {"sepal_width": 2.0} if version == "2" else None
            requests = iris_requests(30, seed=10 * n + int(version), shift=shift)
            requests += iris_requests(5, seed=100 + n, rows_per_request=3)
            for line in capture_lines(requests, "iris", version, at):
                if (n + len(lines)) % 4 == 0:  # rows as objects, in among rows as lists
                    line["inputs"] = [dict(zip(FEATURES, r, strict=True)) for r in line["inputs"]]
                if version == "2" and n % 2:
                    line["excluded"] = ["petal_width"]
                lines.append(line)
        put_capture(account.s3, BUCKET, lines, at, n=n)
        labels = "".join(
            json.dumps(
                {
                    "model": "iris",
                    "request_id": line["request_id"],
                    "row": row,
                    "label": line["outputs"][row],
                }
            )
            + "\n"
            for line in lines[::3]
            for row in range(len(line["inputs"]))
        )
        account.s3.put_object(Bucket=BUCKET, Key=f"feedback/bulk-{n}.jsonl", Body=labels.encode())

    def reports() -> dict[str, Any]:
        return {
            version: {
                k: v for k, v in account.report("iris", version).items() if k != "generated_at"
            }
            for version in ("1", "2")
        }

    runs, written = [], []
    for readers in (1, 2, 3):
        runs.append(account.run(readers=readers))
        written.append(reports())
    assert written[1] == written[0] and written[2] == written[0]
    assert runs[1]["read"] == runs[0]["read"] == runs[2]["read"]
    assert not any(run["failures"] for run in runs)
    assert written[0]["1"]["rows"] == 7 * (30 + 15)
    assert written[0]["2"]["verdict"] == "drift"
    assert written[0]["1"]["quality"]["labelled_rows"] > 0


def test_a_window_within_the_row_limit_is_read_whole_by_readers_with_uneven_shares(account):
    """Objects of very different sizes: one reader's share holds more than its half of the
    row limit though the window fits in it. Two readers must still read the window whole,
    as one does, and not call it more than the limit."""
    account.live_model("iris", "1")
    for n, count in enumerate([300, 10, 300, 10]):
        at = END - timedelta(minutes=90 - 10 * n)
        requests = iris_requests(count, seed=n)
        put_capture(account.s3, BUCKET, capture_lines(requests, "iris", "1", at), at, n=n)

    one = account.run(readers=1, limits=Limits(max_rows=1000))
    by_one = report_without_time(account)
    two = account.run(readers=2, limits=Limits(max_rows=1000))
    by_two = report_without_time(account)

    assert one["truncated"] is None and by_one["rows"] == 620
    assert two["truncated"] is None
    assert by_two == by_one
