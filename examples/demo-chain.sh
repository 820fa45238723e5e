#!/usr/bin/env bash
# Environments as a chain on the embedded cloud: local (dev) -> local-prod. local-prod takes
# models only from local, with a statement local signs with its own KMS key (cdk.json
# accepts_from), trained on data at durable S3 object versions (lineage_policy).
set -euo pipefail
cd "$(dirname "$0")/.."
slipway() { .venv/bin/slipway "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
MODEL=iris
BUCKET=slipway-demo-datasets

step "1. Start the embedded cloud and deploy local, then local-prod (given local's public key)"
slipway local up --env local --env local-prod
echo "local's attestation key, as local-prod holds it (slipway attestation-key --env local):"
slipway attestation-key --env local
# the embedded cloud's S3 for the trainer below, signed with this start's key
eval "$(slipway local env)"

VERSION=$(date -u +%Y%m%d%H%M%S)
BUNDLE=.slipway/demo/$MODEL-$VERSION.tar.gz
step "2. Put the iris CSVs in a versioned bucket; train and package $MODEL $VERSION from there"
.venv/bin/python -m examples.iris.train_from_s3 --bucket "$BUCKET" --upload \
  --out "$BUNDLE" --version "$VERSION" --name "$MODEL"

step "3. Push it to local (dev) and follow its gate there"
slipway push "$BUNDLE" --env local
slipway status "$MODEL" "$VERSION" --env local --watch

step "4. Upload the same bundle straight to local-prod, around the chain: its gate refuses it"
# the refusal comes before Register: nothing is registered, the version stays free
slipway push "$BUNDLE" --env local-prod
if slipway status "$MODEL" "$VERSION" --env local-prod --watch; then
  echo "local-prod took a bundle without an attestation: the chain is not enforced" >&2
  exit 1
fi

step "5. Promote $MODEL $VERSION from local to local-prod: bytes by S3 version id, and local's statement"
slipway promote "$MODEL" "$VERSION" --from local --to local-prod --watch

step "6. Ask local-prod's live model for predictions"
slipway invoke "$MODEL" --env local-prod \
  --data '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 5.1, 1.6], [6.7, 3.0, 5.2, 2.3]]}'

step "7. Lineage in local-prod: the same bytes, the S3 datasets, and the statement local signed"
slipway lineage "$MODEL" "$VERSION" --env local-prod

printf '\nThe embedded cloud keeps running; stop it with: .venv/bin/slipway local down\n'
