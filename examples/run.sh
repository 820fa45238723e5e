#!/usr/bin/env bash
# Run one example end to end on the embedded cloud: iris (scikit-learn pipeline with
# preprocessing), onnx (the same pipeline exported to ONNX) or python (a custom predictor).
set -euo pipefail
cd "$(dirname "$0")/.."
example=${1:?usage: examples/run.sh iris|onnx|python}
case "$example" in
  iris) module=examples.iris.train; name=iris ;;
  onnx) module=examples.iris_onnx.train; name=iris-onnx ;;
  python) module=examples.iris_python.train; name=iris-python ;;
  *) echo "unknown example $example: use iris, onnx or python" >&2; exit 2 ;;
esac
slipway() { .venv/bin/slipway "$@"; }
version=$(date -u +%Y%m%d%H%M%S)
bundle=.slipway/examples/$name-$version.tar.gz

slipway local up
.venv/bin/python -m "$module" --out "$bundle" --version "$version"
slipway push "$bundle" --env local
slipway status "$name" "$version" --env local --watch
slipway invoke "$name" --env local --data '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
