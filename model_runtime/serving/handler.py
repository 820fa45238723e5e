"""Lambda entry point: Function URL and API Gateway v2 events through Mangum.

``lifespan="off"`` because Mangum would otherwise run the ASGI lifespan on every invocation;
models are loaded lazily by the store on the first request that needs them.
"""

from mangum import Mangum

from model_runtime.serving.app import create_app

app = create_app()
handler = Mangum(app, lifespan="off")
