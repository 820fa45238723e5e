"""How many DynamoDB requests the registry's lookups cost, and whether that grows with the table.

    .venv/bin/python bench/registry.py [--models 1000 --versions 10]

Fills moto's DynamoDB (in process) through the real LineageRepository write path, then runs
each lookup the registry API serves and counts requests, items read and Scans with botocore
event hooks. The same lookups run again on a table 100 times smaller; if any lookup needs more
requests on the larger table, the cost grows with the table. Prints a table, then a summary
line for tracking over time. Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for variable, value in (
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
):
    os.environ.setdefault(variable, value)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from registry import items  # noqa: E402
from registry.keys import create_table_request  # noqa: E402
from registry.repository import LineageRepository, now_iso  # noqa: E402

SHARED_DATASETS = 20  # each training set is reused by many versions, as in real teams


class RequestCounter:
    """Counts DynamoDB calls, items read and Scans through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.items = 0
        client.meta.events.register("after-call.dynamodb.*", self._after_call)

    def _after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if "Item" in parsed:
            self.items += 1
        self.items += int(parsed.get("Count", 0))

    def reset(self) -> None:
        self.calls.clear()
        self.items = 0


def manifest_for(name: str, version: int, dataset: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": str(version),
        "flavor": "sklearn",
        "signature": {
            "inputs": [{"name": "x", "dtype": "float64"}],
            "outputs": [{"name": "y", "dtype": "int64"}],
        },
        "input_example": {"inputs": [[1.0]], "expected_output": [0]},
        "lineage": {
            "code": {
                "repository": "git@example.com:team/models.git",
                "commit": f"{version:040x}",
                "dirty": False,
            },
            "datasets": [
                {
                    "role": "train",
                    "uri": f"s3://data/{dataset}.csv",
                    "sha256": dataset,
                    "rows": 1000,
                }
            ],
            "params": {"C": 1.0},
            "metrics": {"accuracy": 0.9},
        },
        "evaluation": None,
        "runtime": {"python": "3.12"},
    }


def fill(table: Any, models: int, versions: int) -> list[str]:
    """Bulk-load versions, edges, summaries and live pointers built by the repository's own
    item builders (moto's TransactWriteItems copies the whole table, too slow to fill it)."""
    datasets = [f"{i:064x}" for i in range(SHARED_DATASETS)]
    at = now_iso()
    with table.batch_writer() as batch:
        for m in range(models):
            name = f"model-{m:05d}"
            for v in range(1, versions + 1):
                dataset = datasets[(m * versions + v) % len(datasets)]
                manifest = manifest_for(name, v, dataset)
                bundle = {
                    "bucket": "bucket",
                    "key": f"models/{name}/{v}/bundle.tar.gz",
                    "s3_version_id": "v",
                    "digest": f"{v:064x}",
                    "size": 1,
                }
                batch.put_item(Item=items.version_item(manifest, bundle, f"{name}-{v}", at))
                for edge in items.edge_items(manifest):
                    if edge["kind"] == "dataset-edge":
                        edge["live"] = v == versions  # what promote() maintains
                    batch.put_item(Item=edge)
            batch.put_item(Item=items.model_summary_item(name, str(versions), at))
            batch.put_item(
                Item=items.pointer_item(
                    name, "live", str(versions), str(versions - 1), f"{name}-{versions}", at
                )
            )
    return datasets


def lookups(repository: LineageRepository, dataset: str) -> dict[str, Any]:
    name = "model-00000"

    return {
        "live version of a model": lambda: repository.get_pointer(name),
        "version with lineage and history": lambda: (
            repository.get_version(name, "3"),
            repository.audit_history(name, "3"),
        ),
        "models that used a dataset (first page)": lambda: repository.dataset_users(dataset),
        "first page of versions": lambda: repository.list_versions(name, limit=50),
        "first page of models": lambda: repository.list_models(limit=50),
    }


def measure(models: int, versions: int) -> dict[str, dict[str, int]]:
    with mock_aws():
        table = boto3.resource("dynamodb").create_table(**create_table_request("bench"))
        counter = RequestCounter(table.meta.client)
        repository = LineageRepository(table)
        started = time.perf_counter()
        datasets = fill(table, models, versions)
        fill_seconds = time.perf_counter() - started
        results = {}
        for label, lookup in lookups(repository, datasets[0]).items():
            counter.reset()
            lookup()
            results[label] = {
                "requests": sum(counter.calls.values()),
                "items": counter.items,
                "scans": counter.calls["Scan"],
                "operations": ", ".join(f"{op} x{n}" for op, n in sorted(counter.calls.items())),
            }
        results["_fill"] = {"seconds": round(fill_seconds, 1)}
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    large = measure(args.models, args.versions)
    small = measure(max(args.models // 100, 1), args.versions)
    console = Console(width=140)
    table = Table(
        title=f"registry lookups: {args.models * args.versions} vs "
        f"{max(args.models // 100, 1) * args.versions} versions"
    )
    for column in (
        "lookup",
        "requests (large)",
        "requests (small)",
        "items read (large)",
        "scans",
        "operations (large)",
    ):
        table.add_column(column)
    grows, scans, max_requests = False, 0, 0
    for label, row in large.items():
        if label.startswith("_"):
            continue
        baseline = small[label]
        grows |= row["requests"] > baseline["requests"]
        scans += row["scans"] + baseline["scans"]
        max_requests = max(max_requests, row["requests"])
        table.add_row(
            label,
            str(row["requests"]),
            str(baseline["requests"]),
            str(row["items"]),
            str(row["scans"]),
            row["operations"],
        )
    console.print(table)
    console.print(
        f"filled {args.models * args.versions} versions in "
        f"{large['_fill']['seconds']} s (moto, in process)"
    )
    print(json.dumps({"large": large, "small": small}), file=sys.stderr)
    print(
        f"scans={scans} max_requests_per_lookup={max_requests} "
        f"grows_with_table={'yes' if grows else 'no'}"
    )


if __name__ == "__main__":
    main()
