"""The console as one ASGI app: the guard in front of the pages, the decision forms and the
package's static files; registry refusals and unknown URLs as pages, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from slipway.console import actions, pages
from slipway.console.guard import ConsoleGuard
from slipway.console.pages import PageNotFound
from slipway.console.registry_client import RegistryCallError, RegistryClient
from slipway.console.rendering import render

STATIC = Path(__file__).resolve().parent / "static"
logger = logging.getLogger("slipway.console")

# how each registry status is titled on the page that shows it
REFUSALS = {
    400: "The registry refused the request",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    502: "The registry cannot be reached",
}


def create_console_app(
    registry: RegistryClient, *, port: int, secret: str, environment: str
) -> ConsoleGuard:
    """The console for one environment's registry, answering only at 127.0.0.1:<port> (or
    localhost:<port>) to requests that carry ``secret``."""
    app = FastAPI(
        title="Slipway console",
        # no API pages: FastAPI's docs load scripts from a CDN
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.registry = registry
    app.state.environment = environment
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(RegistryCallError, _registry_refused)  # type: ignore[arg-type]
    app.add_exception_handler(PageNotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _failed)
    return ConsoleGuard(app, port=port, secret=secret)


def _page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    context = pages.base_context(request, title, [(title, None)])
    context.update(status=status, detail=detail)
    return render("error.html", context, status)


def _registry_refused(request: Request, exc: RegistryCallError) -> HTMLResponse:
    title = REFUSALS.get(exc.status, "The registry failed")
    if exc.status == 403:
        title = "Not allowed: not an approver, or IAM refuses your credentials"
    status = exc.status if 400 <= exc.status < 600 else 502
    return _page(request, status, title, f"The registry answered HTTP {exc.status}: {exc.detail}")


def _not_found(request: Request, exc: Exception) -> HTMLResponse:
    detail = str(exc) if isinstance(exc, PageNotFound) else "The console has no such page."
    return _page(request, 404, "Not found", detail)


def _http_error(request: Request, exc: HTTPException) -> HTMLResponse:
    if exc.status_code == 404:
        return _page(request, 404, "Not found", "The console has no such page.")
    return _page(request, exc.status_code, "Refused", str(exc.detail))


def _failed(request: Request, exc: Exception) -> HTMLResponse:
    # the console's own bug: said in a line, logged in full, never shown as a traceback
    logger.exception("console page %s failed", request.url.path)
    return _page(
        request, 500, "The console failed", f"{type(exc).__name__} while building this page."
    )
