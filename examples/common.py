"""What every example's command line shares: --out and --version, and one line of output."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_runtime.manifest import Manifest


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
