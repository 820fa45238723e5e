#!/usr/bin/env python3
"""The CDK app: ``cdk deploy -c env=<name>`` deploys the environment named in cdk.json."""

import sys

import aws_cdk as cdk

from infra.app_builder import build_app
from infra.config import ConfigError

app = cdk.App()
try:
    build_app(app)
except ConfigError as error:
    sys.exit(f"slipway: {error}")
app.synth()
