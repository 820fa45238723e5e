"""Serving speed: Slipway's Lambda path, Slipway vs `mlflow models serve`, and cold start.

    make bench-serving        # creates the MLflow environment, then runs this

For the same scikit-learn model (examples/iris) and the same requests, all measured in one
run on this machine:
1. the Lambda path (Function URL event -> Mangum -> FastAPI -> model) against calling the
   model directly: added latency at p50 and p99, for 1 row and for 100 rows;
2. Slipway under uvicorn against `mlflow models serve`, over loopback HTTP with the same
   client: p50, p99 (sequential) and requests per second (concurrent clients);
3. the embedded cloud's Function URL gateway and Lambda executor against `slipway serve`,
   same model, keep-alive client: what running locally on the embedded cloud adds;
4. cold start: a fresh process from import to first answer, against the bare minimum
   (import the model's libraries, load the file, predict once);
5. the same Lambda-path and cold-start figures for a DataFrame model (the house-prices
   example: a ColumnTransformer with a string column), where pandas joins the path.
Prints a table; the last line is a summary for tracking. Not a test.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from examples.iris.train import FEATURES, HERE, read_csv, train_and_package  # noqa: E402

ROWS = read_csv(HERE / "data" / "evaluation.csv")[0].tolist()


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def timed(call: Any, iterations: int) -> list[float]:
    (samples,) = timed_together([call], iterations)
    return samples


def timed_together(calls: list[Any], iterations: int) -> list[list[float]]:
    """Each call timed ``iterations`` times, the calls taking turns: a drift of the machine
    (another process, frequency scaling) then weighs on each alike, which matters when a
    few tenths of a millisecond are measured next to a model that takes several."""
    for _ in range(min(50, iterations)):  # warm caches, JIT-less but lazy imports
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(iterations):
        for call, into in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call()
            into.append((time.perf_counter() - started) * 1000)
    return samples


def batch(size: int) -> list[list[float]]:
    return [ROWS[i % len(ROWS)] for i in range(size)]


# -- 1. the Lambda path against the model itself ------------------------------------------


class LambdaContext:
    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1024
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:1:function:bench", "r"


def predict_event(model: str, rows: list[Any]) -> dict[str, Any]:
    from model_runtime.serving.function_url import function_url_event

    return function_url_event(
        method="POST",
        raw_path=f"/v1/models/{model}/predict",
        raw_query="",
        headers={"content-type": "application/json"},
        body=json.dumps({"inputs": rows}).encode(),
        url_id="bench",
        region="us-east-1",
        account_id="1",
    )


def capture_added_p50_ms(bundle: Path, iterations: int, rows: list[Any]) -> float:
    """What capturing a request adds to the Lambda path at p50: the same request with the
    model's capture rate at 1 (every request written as a capture line) and at 0, taking
    turns. Measured at rate 1, so it is the cost of a captured request, not an average."""
    from model_runtime.serving import capture
    from model_runtime.serving import handler as module
    from model_runtime.serving.metrics import logger
    from model_runtime.single_bundle_store import SingleBundleStore

    store = SingleBundleStore(bundle, Path(tempfile.mkdtemp()))
    module.app.state.model_store = store
    event = predict_event(store.manifest.name, rows)
    rate = {"now": 0.0}
    settings_of = capture._capture_of
    capture._capture_of = lambda model: (rate["now"], frozenset())  # type: ignore[assignment]

    def call(captured: float) -> None:
        rate["now"] = captured
        module.handler(event, LambdaContext())

    sink = io.StringIO()
    logger.registered_handler.stream = sink
    try:
        with contextlib.redirect_stdout(sink):
            off, on = timed_together([lambda: call(0.0), lambda: call(1.0)], iterations)
    finally:
        capture._capture_of = settings_of  # type: ignore[assignment]
    assert '"message":"capture"' in sink.getvalue()  # the captured calls did write lines
    return percentile(on, 50) - percentile(off, 50)


def lambda_overhead(
    bundle: Path, iterations: int, rows_of: Any = None, sizes: tuple[int, ...] = (1, 100)
) -> dict[str, float]:
    """The Lambda path (event -> Mangum -> FastAPI -> checks -> model) against calling the
    model itself on input already in the form it takes."""
    from model_runtime.model_input import ModelInput
    from model_runtime.serving import handler as module
    from model_runtime.serving.metrics import logger
    from model_runtime.single_bundle_store import SingleBundleStore

    store = SingleBundleStore(bundle, Path(tempfile.mkdtemp()))
    module.app.state.model_store = store
    model = store.model(store.manifest.name)
    rows_of = rows_of or batch
    estimator_predict = _estimator(bundle)

    results = {}
    for size in sizes:
        rows = rows_of(size)
        event = predict_event(store.manifest.name, rows)
        # the model's own input, built once: what the Lambda path adds is everything else
        prepared = ModelInput.from_request(model.signature, rows)
        as_frame = model.signature.model_input == "dataframe"
        features = prepared.frame if as_frame else prepared.array
        # in Lambda the EMF and log lines go to stdout too; here they go to a sink
        sink = io.StringIO()
        logger.registered_handler.stream = sink
        with contextlib.redirect_stdout(sink):
            direct, through = timed_together(
                [
                    lambda f=features: estimator_predict(f),
                    lambda e=event: module.handler(e, LambdaContext()),
                ],
                iterations,
            )
        results[f"direct_p50_{size}"] = percentile(direct, 50)
        results[f"direct_p99_{size}"] = percentile(direct, 99)
        results[f"lambda_p50_{size}"] = percentile(through, 50)
        results[f"lambda_p99_{size}"] = percentile(through, 99)
    return results


def _estimator(bundle: Path) -> Any:
    """The fitted estimator's own predict (the skops file loaded as the flavor loads it)."""
    import tarfile

    from model_runtime.flavors.sklearn import load_estimator

    bundle_root = Path(tempfile.mkdtemp())
    with tarfile.open(bundle) as tar:
        tar.extract("model.skops", bundle_root, filter="data")
    return load_estimator(bundle_root / "model.skops").predict


def house_rows(size: int) -> list[dict[str, Any]]:
    """Evaluation records of the house-prices example (a string column, sometimes null)."""
    from examples.house_prices.train import EVALUATION_CSV, EXTENDED
    from model_runtime.columns import infer_columns, records

    frame = pd.read_csv(EVALUATION_CSV)[EXTENDED]
    rows = records(frame, infer_columns(frame))
    return [rows[i % len(rows)] for i in range(size)]


# -- 2. over HTTP: Slipway under uvicorn vs mlflow models serve ----------------------------


@contextlib.contextmanager
def server(command: list[str], url: str, env: dict[str, str] | None = None) -> Any:
    # a pipe nobody reads would fill up and stall the server; the file is closed below
    log = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})}, cwd=ROOT
    )
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"{command[0]} did not start: {log.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# a server to measure: its predict URL, the request body, headers it needs (a signature)
Target = tuple[str, dict[str, Any], dict[str, str]]


class KeepAliveClient:
    """One keep-alive connection over the standard library: httpx spends about half a
    millisecond of its own per request, a third of what a fast server takes, and would
    blur the servers' difference."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self._path = parts.path
        self._payload = json.dumps(body).encode()
        self._headers = {"content-type": "application/json", **headers}

    def post(self) -> None:
        self._connection.request("POST", self._path, body=self._payload, headers=self._headers)
        response = self._connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{self._path} answered HTTP {response.status}")

    def close(self) -> None:
        self._connection.close()


def latencies(targets: dict[str, Target], iterations: int) -> dict[str, dict[str, float]]:
    """p50 and p99 of each server (url, body, headers), one keep-alive client each, the
    servers taking turns request by request: drift of the machine weighs on all alike."""
    clients = [KeepAliveClient(*target) for target in targets.values()]
    try:
        samples = timed_together([client.post for client in clients], iterations)
    finally:
        for client in clients:
            client.close()
    return {
        name: {"p50": percentile(taken, 50), "p99": percentile(taken, 99)}
        for name, taken in zip(targets, samples, strict=True)
    }


def throughputs(targets: dict[str, Target], seconds: float, clients: int) -> dict[str, float]:
    """Requests per second of each server under ``clients`` concurrent clients, in windows
    of one second, the servers taking turns until each had ``seconds``."""
    done = dict.fromkeys(targets, 0)
    for _ in range(max(int(seconds), 1)):
        for name, target in targets.items():
            stop = time.monotonic() + 1.0
            counts = [0] * clients

            def worker(
                index: int,
                t: Target = target,
                until: float = stop,
                tally: list[int] = counts,
            ) -> None:
                own = KeepAliveClient(*t)
                try:
                    while time.monotonic() < until:
                        own.post()
                        tally[index] += 1
                finally:
                    own.close()

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            done[name] += sum(counts)
    return {name: count / max(int(seconds), 1) for name, count in done.items()}


@contextlib.contextmanager
def mlflow_server(mlflow_python: Path) -> Any:
    """``mlflow models serve`` of the same iris pipeline: (url, body)."""
    model_dir = Path(tempfile.mkdtemp()) / "mlflow-iris"
    subprocess.run(
        [
            str(mlflow_python),
            str(ROOT / "bench" / "mlflow_model.py"),
            str(HERE / "data" / "train.csv"),
            str(model_dir),
        ],
        check=True,
        capture_output=True,
    )
    port = 8790
    mlflow = mlflow_python.parent / "mlflow"
    command = [
        str(mlflow),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    body = {"dataframe_split": {"columns": FEATURES, "data": [ROWS[0]]}}
    # MLflow starts `uvicorn` from PATH: its own environment's
    env = {
        "MLFLOW_MODELS_WORKERS": "1",
        "PATH": f"{mlflow_python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with server(command, f"http://127.0.0.1:{port}/ping", env):
        yield f"http://127.0.0.1:{port}/invocations", body, {}


@contextlib.contextmanager
def slipway_server(bundle: Path) -> Any:
    """``slipway serve`` of the bundle: (url, body)."""
    port = 8791
    command = [sys.executable, "-m", "slipway.cli", "serve", str(bundle), "--port", str(port)]
    with server(command, f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}/v1/models/iris/predict", {"inputs": [ROWS[0]]}, {}


# -- 3. the embedded cloud: local gateway + executor, against slipway serve -----------------


@contextlib.contextmanager
def embedded_server(bundle: Path) -> Any:
    """The same model through the embedded cloud's Function URL gateway: uvicorn -> Function
    URL event -> Lambda backend -> warm worker -> Mangum -> FastAPI: (url, body).

    The embedded cloud runs in a process of its own, as `slipway local up` runs it, with the
    endpoint function created directly (no CDK deploy) and the bundle registered and live, as
    the promotion workflow would leave them (bench/embedded_endpoint.py).
    """
    script = [sys.executable, str(ROOT / "bench" / "embedded_endpoint.py"), str(bundle)]
    process = subprocess.Popen(
        script, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the embedded endpoint did not start (said {url!r})")
        signed = {"authorization": process.stdout.readline().strip()}
        yield f"{url}/v1/models/iris/predict", {"inputs": [ROWS[0]]}, signed
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- 4. cold start -----------------------------------------------------------------------


def cold_starts(bundle: Path, runs: int) -> dict[str, float]:
    """Median wall time of each kind, the two kinds alternating so drift hits both alike.

    Slipway's modules are compiled to bytecode first, as the endpoint image does
    (`compileall` in model_runtime/Dockerfile): a read-only /var/task cannot cache it.
    """
    compileall.compile_dir(ROOT / "model_runtime", quiet=1)
    samples: dict[str, list[float]] = {"slipway": [], "bare": []}
    for _ in range(runs):
        for kind, taken in samples.items():
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "cold_start.py"), kind, str(bundle)],
                check=True,
                capture_output=True,
            )
            taken.append((time.perf_counter() - started) * 1000)
    return {kind: statistics.median(taken) for kind, taken in samples.items()}


def capture_costs(iris: Path, iterations: int, console: Console) -> float:
    """Capture's added p50 for a 1-row iris request (an array) and a 1-row house-prices
    request (a record with strings); the larger of the two is the figure tracked."""
    from examples.house_prices.train import train_and_package as package_house

    house = Path(tempfile.mkdtemp()) / "house.tar.gz"
    package_house(house, version="1", extended=True)
    costs = {
        "iris, 1 row (array)": capture_added_p50_ms(iris, iterations, batch(1)),
        "house prices, 1 row (record)": capture_added_p50_ms(house, iterations, house_rows(1)),
    }
    table = Table(title="data capture: what a captured request adds to the Lambda path (ms)")
    table.add_column("request")
    table.add_column("added p50")
    for label, cost in costs.items():
        table.add_row(label, f"{cost:.3f}")
    console.print(table)
    return max(costs.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--mlflow-python", type=Path, default=ROOT / ".venv-bench-mlflow" / "bin" / "python"
    )
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument(
        "--only-capture",
        action="store_true",
        help="measure only what capturing a request adds to the Lambda path",
    )
    parser.add_argument(
        "--only-embedded",
        action="store_true",
        help="measure only the embedded cloud's gateway against slipway serve",
    )
    args = parser.parse_args()
    if not (args.only_embedded or args.only_capture) and not args.mlflow_python.exists():
        sys.exit(f"no MLflow environment at {args.mlflow_python}: run `make bench-serving`")

    bundle = Path(tempfile.mkdtemp()) / "iris.tar.gz"
    train_and_package(bundle, name="iris", version="1")
    console = Console(width=120)
    captured = capture_costs(bundle, args.iterations, console)
    if args.only_capture:
        print(f"capture_added_p50_ms={captured:.3f}")
        return

    with contextlib.ExitStack() as servers:
        targets = {
            "slipway": servers.enter_context(slipway_server(bundle)),
            "embedded": servers.enter_context(embedded_server(bundle)),
        }
        if not args.only_embedded:
            targets["mlflow"] = servers.enter_context(mlflow_server(args.mlflow_python))
        http = latencies(targets, args.iterations)
        if not args.only_embedded:
            rps = throughputs(
                {k: targets[k] for k in ("slipway", "mlflow")}, args.seconds, args.clients
            )
            http["slipway"]["rps"], http["mlflow"]["rps"] = rps["slipway"], rps["mlflow"]
    slipway_http, embedded = http["slipway"], http["embedded"]
    table = Table(title="the same model over HTTP with a keep-alive client, 1 row (ms)")
    for column in ("server", "p50", "p99"):
        table.add_column(column)
    table.add_row(
        "slipway serve (uvicorn)", f"{slipway_http['p50']:.2f}", f"{slipway_http['p99']:.2f}"
    )
    table.add_row(
        "embedded cloud: gateway + executor", f"{embedded['p50']:.2f}", f"{embedded['p99']:.2f}"
    )
    console.print(table)
    embedded_added = embedded["p50"] - slipway_http["p50"]
    if args.only_embedded:
        print(f"embedded_added_p50_ms={embedded_added:.3f}")
        return

    overhead = lambda_overhead(bundle, args.iterations)
    from examples.house_prices.train import train_and_package as package_house

    house = Path(tempfile.mkdtemp()) / "house.tar.gz"
    package_house(house, version="1", extended=True)
    frame_overhead = lambda_overhead(house, args.iterations, house_rows, sizes=(1,))
    frame_cold = cold_starts(house, args.cold_runs)
    mlflow_http = http["mlflow"]
    cold = cold_starts(bundle, args.cold_runs)
    cold_slipway, cold_bare = cold["slipway"], cold["bare"]

    table = Table(title="Lambda path: Function URL event -> Mangum -> FastAPI -> model (ms)")
    for column in (
        "rows",
        "direct p50",
        "Lambda path p50",
        "added p50",
        "direct p99",
        "Lambda path p99",
        "added p99",
    ):
        table.add_column(column)
    for size in (1, 100):
        o = {k.rsplit("_", 1)[0]: v for k, v in overhead.items() if k.endswith(f"_{size}")}
        table.add_row(
            str(size),
            f"{o['direct_p50']:.3f}",
            f"{o['lambda_p50']:.3f}",
            f"{o['lambda_p50'] - o['direct_p50']:.3f}",
            f"{o['direct_p99']:.3f}",
            f"{o['lambda_p99']:.3f}",
            f"{o['lambda_p99'] - o['direct_p99']:.3f}",
        )
    console.print(table)

    table = Table(
        title=f"HTTP on loopback, 1 row, one worker each ({args.clients} clients for rps)"
    )
    for column in ("server", "p50 ms", "p99 ms", "requests/s"):
        table.add_column(column)
    for label, figures in (
        ("slipway serve (uvicorn)", slipway_http),
        ("mlflow models serve", mlflow_http),
    ):
        table.add_row(
            label, f"{figures['p50']:.2f}", f"{figures['p99']:.2f}", f"{figures['rps']:.0f}"
        )
    console.print(table)

    table = Table(title=f"cold start: fresh process to first answer (median of {args.cold_runs})")
    table.add_column("process")
    table.add_column("iris, array (ms)")
    table.add_column("house prices, DataFrame (ms)")
    table.add_row(
        "Slipway Lambda handler, first request",
        f"{cold_slipway:.0f}",
        f"{frame_cold['slipway']:.0f}",
    )
    table.add_row(
        "bare minimum: import, load, predict", f"{cold_bare:.0f}", f"{frame_cold['bare']:.0f}"
    )
    console.print(table)
    frame_added = frame_overhead["lambda_p50_1"] - frame_overhead["direct_p50_1"]
    console.print(
        "house prices (ColumnTransformer on a DataFrame), 1 row: model alone "
        f"{frame_overhead['direct_p50_1']:.3f} ms, "
        f"Lambda path {frame_overhead['lambda_p50_1']:.3f} ms"
    )

    added = overhead["lambda_p50_1"] - overhead["direct_p50_1"]
    print(
        f"lambda_added_p50_ms={added:.3f} "
        f"http_p50_vs_mlflow={slipway_http['p50'] / mlflow_http['p50']:.2f} "
        f"rps_vs_mlflow={slipway_http['rps'] / mlflow_http['rps']:.2f} "
        f"cold_start_vs_bare={cold_slipway / cold_bare:.2f} "
        f"embedded_added_p50_ms={embedded_added:.3f} "
        f"dataframe_added_p50_ms={frame_added:.3f} "
        f"dataframe_cold_start_vs_bare={frame_cold['slipway'] / frame_cold['bare']:.2f} "
        f"capture_added_p50_ms={captured:.3f}"
    )


if __name__ == "__main__":
    main()
