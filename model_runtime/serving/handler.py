"""Lambda entry point: Function URL and API Gateway v2 events through Mangum.

``lifespan="off"`` because Mangum would otherwise run the ASGI lifespan on every invocation;
models are loaded lazily by the store on the first request that needs them, except in an
environment initialised for provisioned concurrency, which loads its served models first
(``warm_up``). Logs carry the request id (Powertools); the first invocation of each
on-demand container emits a ColdStart metric (a provisioned one never makes a caller wait).

``gc.freeze()`` once the app is built: everything imported so far lives as long as the
container, so the cyclic collector should stop walking it. Without it, every collection
triggered while the first request imports the model's libraries re-scans FastAPI's and
pydantic's objects, which made the first answer about 0.2 s slower (bench/serving.py).
"""

import gc
from typing import Any

from mangum import Mangum

from model_runtime.serving.app import create_app
from model_runtime.serving.metrics import emit_cold_start, logger
from model_runtime.serving.warm_up import is_provisioned, warm_up

app = create_app()
_mangum = Mangum(app, lifespan="off")
_container = {"cold": True}
gc.freeze()
if warm_up(app):
    gc.freeze()  # the served models live as long as the container, too


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if _container.pop("cold", False) and not is_provisioned():
        emit_cold_start(getattr(context, "function_name", ""))
    return _mangum(event, context)  # type: ignore[no-any-return]
