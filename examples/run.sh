#!/usr/bin/env bash
# Run one example end to end on the embedded cloud: train, package, push, follow the gate,
# then ask the live model for its input example's predictions.
#   iris     a scikit-learn pipeline on arrays        onnx    the same, exported to ONNX
#   python   a custom predictor with its own modules  house   a DataFrame pipeline with a
#   spam     text in, string labels out                        string column (then v2 adds
#   churn    missing values, JSON null                         a feature and replaces it)
#   xgboost  an XGBoost model in its own format
set -euo pipefail
cd "$(dirname "$0")/.."
example=${1:?usage: examples/run.sh iris|onnx|python|house|spam|churn|xgboost}
case "$example" in
  iris) module=examples.iris.train; name=iris ;;
  onnx) module=examples.iris_onnx.train; name=iris-onnx ;;
  python) module=examples.iris_python.train; name=iris-python ;;
  house) module=examples.house_prices.train; name=house-prices ;;
  spam) module=examples.spam.train; name=spam ;;
  churn) module=examples.churn.train; name=churn ;;
  xgboost) module=examples.credit_xgboost.train; name=credit-xgboost ;;
  *) echo "unknown example $example: use iris, onnx, python, house, spam, churn or xgboost" >&2; exit 2 ;;
esac
slipway() { .venv/bin/slipway "$@"; }
example_inputs() {  # the bundle's own input example, as a request body
  .venv/bin/python -c 'import json, sys, tarfile
manifest = json.load(tarfile.open(sys.argv[1]).extractfile("manifest.json"))
print(json.dumps({"inputs": manifest["input_example"]["inputs"]}))' "$1"
}
version=$(date -u +%Y%m%d%H%M%S)
bundle=.slipway/examples/$name-$version.tar.gz

slipway local up
.venv/bin/python -m "$module" --out "$bundle" --version "$version"
slipway push "$bundle" --env local
slipway status "$name" "$version" --env local --watch
slipway invoke "$name" --env local --data "$(example_inputs "$bundle")"
if [ "$example" = house ]; then
  # version 2 adds a feature and scores better: the gate compares it with version 1 on
  # version 1's own columns, and it goes live
  bundle2=.slipway/examples/$name-$version-2.tar.gz
  .venv/bin/python -m "$module" --out "$bundle2" --version "$version.2" --extended
  slipway push "$bundle2" --env local
  slipway status "$name" "$version.2" --env local --watch
  slipway invoke "$name" --env local --data "$(example_inputs "$bundle2")"
fi
