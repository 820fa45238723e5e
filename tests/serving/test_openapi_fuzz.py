"""schemathesis drives the app from its own OpenAPI document: no request gets a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from model_runtime.serving.app import create_app
from model_runtime.single_bundle_store import SingleBundleStore


def fuzzed_app():
    """The endpoint app serving the iris bundle built once for this module."""
    import tempfile
    from pathlib import Path

    from examples.iris.train import train_and_package

    work = Path(tempfile.mkdtemp(prefix="slipway-fuzz-"))
    train_and_package(work / "iris.tar.gz", name="iris", version="1")
    return create_app(SingleBundleStore(work / "iris.tar.gz", work))


schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_from_the_openapi_document_gets_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
