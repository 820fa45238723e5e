#!/usr/bin/env bash
# The whole loop on the embedded cloud: deploy, train, package, push, promote, predict, trace.
set -euo pipefail
cd "$(dirname "$0")/.."
slipway() { .venv/bin/slipway "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Start the embedded cloud and deploy env=local with the CDK CLI"
slipway local up

VERSION=$(date -u +%Y%m%d%H%M%S)
BUNDLE=.slipway/demo/iris-$VERSION.tar.gz
step "2. Train an iris classifier on examples/iris/data and package it (version $VERSION)"
.venv/bin/python -m examples.iris.train --out "$BUNDLE" --version "$VERSION"

step "3. Upload it: the upload starts the promotion workflow"
slipway push "$BUNDLE" --env local

step "4. Follow the promotion"
slipway status iris "$VERSION" --env local --watch

step "5. Ask the live model for predictions over HTTP"
INPUTS='{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 5.1, 1.6], [6.7, 3.0, 5.2, 2.3]]}'
slipway invoke iris --env local --data "$INPUTS"
URL=$(slipway local status --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["environments"]["local"]["endpoints"]["default"])')
# the embedded cloud answers only requests signed with this start's key, as AWS_IAM does
eval "$(slipway local env)"
SIGN=(--aws-sigv4 aws:amz:us-east-1:lambda --user "$SLIPWAY_LOCAL_ACCESS_KEY_ID:$SLIPWAY_LOCAL_SECRET_ACCESS_KEY")
echo "the same with curl, signed with the embedded cloud's key:"
echo "  eval \"\$(.venv/bin/slipway local env)\""
echo "  curl --aws-sigv4 aws:amz:us-east-1:lambda --user \"\$SLIPWAY_LOCAL_ACCESS_KEY_ID:\$SLIPWAY_LOCAL_SECRET_ACCESS_KEY\" -X POST $URL/v1/models/iris/predict -d '$INPUTS'"
curl -sS "${SIGN[@]}" -X POST "$URL/v1/models/iris/predict" -d "$INPUTS"
echo

step "6. Lineage of the promoted version"
slipway lineage iris "$VERSION" --env local

step "7. Look at it in the browser: the console shows this version's gate, lineage graph and audit trail"
echo "  .venv/bin/slipway ui --env local"
echo "  then open the link it prints (http://127.0.0.1:8765/?token=...) and go to iris, version $VERSION"

printf '\nThe embedded cloud keeps running: try the curl above, then stop it with: .venv/bin/slipway local down\n'
