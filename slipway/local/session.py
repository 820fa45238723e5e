"""A running embedded cloud with its gateway: what ``slipway local up`` and the tests start."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.local.cloud import ACCOUNT_ID, REGION, EmbeddedCloud
from slipway.local.credentials import LocalCredentials
from slipway.local.gateway import FunctionUrlGateway
from slipway.local.schedules import ScheduleRunner

RoutesChanged = Callable[[dict[str, str]], None]


class LocalSession:
    """Embedded cloud + gateway; a watcher opens a gateway port for every Function URL."""

    def __init__(
        self,
        port: int | None = None,
        work_dir: Path | None = None,
        on_routes_changed: RoutesChanged | None = None,
        first_gateway_port: int = 0,
        credentials: LocalCredentials | None = None,
    ) -> None:
        self.cloud = EmbeddedCloud(port=port, work_dir=work_dir, credentials=credentials)
        self._on_routes_changed = on_routes_changed
        self._next_port = first_gateway_port
        self._stop = threading.Event()
        self.gateway: FunctionUrlGateway | None = None
        self._watcher: threading.Thread | None = None
        self._schedules: ScheduleRunner | None = None

    def start(self) -> LocalSession:
        from slipway.local.moto_patches import invoke_function

        self.cloud.start()

        def invoke(function_arn: str, event: dict[str, Any]) -> tuple[bytes, bool]:
            return invoke_function(ACCOUNT_ID, REGION, function_arn, event)

        self.gateway = FunctionUrlGateway(
            invoke, region=REGION, account_id=ACCOUNT_ID, credentials=self.cloud.credentials
        )
        self._watcher = threading.Thread(target=self._watch_function_urls, daemon=True)
        self._watcher.start()
        # EventBridge Scheduler's schedules (the monitor job's), run as Scheduler runs them
        self._schedules = ScheduleRunner(
            ACCOUNT_ID, REGION, lambda arn, text: invoke(arn, json.loads(text))
        ).start()
        return self

    def refresh_routes(self) -> dict[str, str]:
        """Open a port for each new Function URL and close those of deleted ones."""
        from slipway.local.moto_patches import function_urls

        assert self.gateway is not None
        live = function_urls(ACCOUNT_ID, REGION)
        changed = False
        for url in set(self.gateway.routes) - set(live):
            self.gateway.close(url)
            changed = True
        for url, arn in live.items():
            if url not in self.gateway.routes:
                port = self._next_port
                if port:
                    self._next_port += 1
                self.gateway.serve(url, arn, port=self._free_or_any(port))
                changed = True
        if changed and self._on_routes_changed is not None:
            self._on_routes_changed(dict(self.gateway.routes))
        return dict(self.gateway.routes)

    @staticmethod
    def _free_or_any(port: int) -> int:
        import socket

        if not port:
            return 0
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return 0
        return port

    def _watch_function_urls(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.refresh_routes()
            except Exception:  # the watcher must outlive a transient backend error
                continue

    def local_url(self, function_url: str) -> str:
        """The gateway URL serving a Function URL from the stack outputs."""
        routes = self.refresh_routes()
        if function_url not in routes:
            raise KeyError(f"no Function URL {function_url} in the embedded cloud")
        return routes[function_url]

    def stop(self) -> None:
        self._stop.set()
        if self._schedules is not None:
            self._schedules.stop()
        if self.gateway is not None:
            self.gateway.close_all()
        self.cloud.stop()

    def __enter__(self) -> LocalSession:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
