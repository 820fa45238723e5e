"""What every example's command line shares: --out and --version, and one line of output."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_runtime.manifest import Manifest


@dataclass(frozen=True)
class Fitted:
    """A trainer's fitted model with the evaluation rows as it read them, so a test can hold
    what an endpoint answers against the model's own predictions on the original DataFrame
    (not only against the runtime's conversion of the same JSON)."""

    model: Any
    features: list[str]
    evaluation: Any  # a pandas DataFrame
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def own_predictions(self, rows: int) -> list[Any]:
        """The model's predictions for the first ``rows`` evaluation rows."""
        return list(self.model.predict(self.evaluation[self.features].head(rows)).tolist())


def example_main(
    doc: str, default_out: str, package: Callable[..., Manifest], **extra: Any
) -> None:
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--version", default="1")
    parser.add_argument("--name", default=None, help="model name (default: the example's)")
    args = parser.parse_args()
    options = {"version": args.version, **extra}
    if args.name:
        options["name"] = args.name
    manifest = package(args.out, **options)
    evaluation = manifest.evaluation
    gate = f", gate: {evaluation.metric} {evaluation.direction[:3]} {evaluation.threshold}"
    print(
        f"wrote {args.out}: {manifest.name} {manifest.version} ({manifest.flavor})"
        + (gate if evaluation else "")
    )
