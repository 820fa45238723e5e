"""schemathesis drives the app from its own OpenAPI document: no request gets a 5xx, and
every answer's status, content type and body are the ones the document declares."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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
def test_every_answer_is_what_the_openapi_document_declares_and_none_is_a_5xx(case):
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
