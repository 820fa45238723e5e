#!/usr/bin/env python3
"""The CDK app: ``cdk deploy -c env=<name>`` deploys the environment named in cdk.json."""

import sys

import aws_cdk as cdk

from infra.app_builder import build_app
from infra.config import ConfigError
from infra.image_platform import emulation_warnings

app = cdk.App()
try:
    environment = build_app(app)
except ConfigError as error:
    sys.exit(f"slipway: {error}")
for warning in emulation_warnings(environment.config):
    print(f"slipway: warning: {warning}", file=sys.stderr)
app.synth()
