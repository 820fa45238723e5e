"""Lambda entry point of the registry API (Function URL events through Mangum)."""

from mangum import Mangum

from functions.registry_api.app import create_app

app = create_app()
handler = Mangum(app, lifespan="off")
