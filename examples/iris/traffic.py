"""Send iris requests to a live model, optionally with columns shifted, and feedback for some.

    python -m examples.iris.traffic --name iris --count 200 --shift petal_length=2.5 --feedback 50

Rows are drawn from the shipped training data (fixed seed), so unshifted traffic looks like
what the model learned from; ``--shift COLUMN=DELTA`` adds DELTA to a column of every row.
Each answer's request id goes back with the row's true species to the model's feedback route.
Prints one JSON line: requests sent, feedback sent.
"""

from __future__ import annotations

import argparse
import csv
import json
import random

from examples.iris.train import FEATURES, TARGET, TRAIN_CSV


def rows(count: int, seed: int, shift: dict[str, float]) -> list[tuple[list[float], int]]:
    with TRAIN_CSV.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    rng = random.Random(seed)
    drawn = [rng.choice(records) for _ in range(count)]
    return [
        ([round(float(r[f]) + shift.get(f, 0.0), 3) for f in FEATURES], int(r[TARGET]))
        for r in drawn
    ]


def _shift(text: str) -> tuple[str, float]:
    column, _, delta = text.partition("=")
    if column not in FEATURES or not delta:
        raise argparse.ArgumentTypeError(f"--shift COLUMN=DELTA with COLUMN one of {FEATURES}")
    return column, float(delta)


def main() -> None:
    from slipway.invoke import call_endpoint
    from slipway.target import resolve_target

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="iris")
    parser.add_argument("--env", default="local")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shift", type=_shift, action="append", default=[])
    parser.add_argument("--feedback", type=int, default=0, help="labels for the first N")
    args = parser.parse_args()
    target = resolve_target(args.env)
    labels = []
    for inputs, species in rows(args.count, args.seed, dict(args.shift)):
        body = json.dumps({"inputs": [inputs]}).encode()
        answer = call_endpoint(target, "POST", f"/v1/models/{args.name}/predict", body)
        if answer.status != 200:
            raise SystemExit(f"the endpoint answered HTTP {answer.status}: {answer.body}")
        if len(labels) < args.feedback:
            labels.append({"request_id": answer.body["request_id"], "row": 0, "label": species})
    if labels:
        body = json.dumps({"labels": labels}).encode()
        answer = call_endpoint(target, "POST", f"/v1/models/{args.name}/feedback", body)
        if answer.status != 202:
            raise SystemExit(f"feedback: the endpoint answered HTTP {answer.status}: {answer.body}")
    print(json.dumps({"requests": args.count, "feedback": len(labels), "shift": dict(args.shift)}))


if __name__ == "__main__":
    main()
