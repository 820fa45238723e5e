"""`slipway package --env` reads S3 datasets of an embedded environment once, and the bundle's
lineage names their object versions: what an environment requiring durable datasets takes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from registry.lineage_audit import LineagePolicy, shortfalls
from slipway.cli import app
from slipway.target import resolve_target
from tests.workflow.conftest import point_cli_at

runner = CliRunner()


def test_package_reads_an_environments_s3_datasets_by_version(deployed, tmp_path, monkeypatch):
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    from examples.iris.train import HERE, read_csv

    # GIVEN the iris data in the embedded environment's (versioned) bucket
    point_cli_at(deployed, tmp_path, monkeypatch)
    target = resolve_target("local")
    s3, bucket = target.client("s3"), target.outputs["ArtifactBucketName"]
    written = {
        name: s3.put_object(
            Bucket=bucket,
            Key=f"datasets/iris/{name}.csv",
            Body=(HERE / "data" / f"{name}.csv").read_bytes(),
        )
        for name in ("train", "evaluation")
    }
    x, y = read_csv(HERE / "data" / "train.csv")
    model = tmp_path / "forest.skops"
    sio.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), model)
    # WHEN it is packaged from the S3 URIs with the environment's session
    result = runner.invoke(
        app,
        [
            "package",
            str(model),
            "--name",
            "iris-s3",
            "--version",
            "1",
            "--train",
            f"s3://{bucket}/datasets/iris/train.csv",
            "--evaluation",
            f"s3://{bucket}/datasets/iris/evaluation.csv",
            "--target",
            "species",
            "--threshold",
            "0.8",
            "--env",
            "local",
            "--out",
            str(tmp_path / "bundle.tar.gz"),
            "--json",
        ],
    )
    # THEN the lineage names each object version S3 wrote, with its ETag, and is durable
    assert result.exit_code == 0, (result.output, result.exception)
    datasets = json.loads(result.stdout)["manifest"]["lineage"]["datasets"]
    for dataset, name in zip(datasets, ("train", "evaluation"), strict=True):
        assert dataset["uri"] == (
            f"s3://{bucket}/datasets/iris/{name}.csv?versionId={written[name]['VersionId']}"
        )
        assert dataset["etag"] == written[name]["ETag"].strip('"')
    assert shortfalls({"datasets": datasets}, LineagePolicy(durable_datasets=True)) == []
