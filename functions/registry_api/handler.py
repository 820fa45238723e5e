"""Lambda entry point of the registry API (Function URL events through Mangum)."""

from typing import Any

from mangum import Mangum

from functions.registry_api.app import create_app, logger

app = create_app()
_mangum = Mangum(app, lifespan="off")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _mangum(event, context)
