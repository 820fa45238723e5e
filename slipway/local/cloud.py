"""EmbeddedCloud: a moto server on localhost that runs Slipway's deployed code."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from slipway.local.credentials import LocalCredentials
from slipway.local.executor import LocalExecutor
from slipway.local.queue_poller import QueuePoller

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def moto_version() -> str:
    import moto

    return str(moto.__version__)


class EmbeddedCloud:
    """Starts moto's server in this process, with the embedded cloud's patches installed.

    The endpoint uses the host name ``localhost``: moto's CloudFormation only parses
    path-style template URLs whose host contains it.
    """

    def __init__(
        self,
        port: int | None = None,
        work_dir: Path | None = None,
        credentials: LocalCredentials | None = None,
    ) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://localhost:{self.port}"
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="slipway-cloud-"))
        self.credentials = credentials or LocalCredentials.generate()
        self.executor = LocalExecutor(self.work_dir, self.endpoint_url, self.credentials)
        self._server = None
        self.poller: QueuePoller | None = None

    def start(self) -> EmbeddedCloud:
        from moto.server import ThreadedMotoServer

        from slipway.local import moto_patches
        from slipway.local.loopback import guarded_wsgi

        with socket.socket() as probe:  # moto's server thread would fail silently
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise OSError(f"port {self.port} is in use") from None
        # Step Functions' interpreter reaches Lambda through this port.
        os.environ["MOTO_PORT"] = str(self.port)
        moto_patches.install(self.executor, self.credentials)
        self.poller = QueuePoller(ACCOUNT_ID, REGION).start()
        moto_patches.poll_event_sources(self.poller)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wsgi_server = getattr(self._server, "_server", None)  # moto's werkzeug server
        if wsgi_server is None or not hasattr(wsgi_server, "app"):
            raise RuntimeError(
                f"moto {moto_version()} changed ThreadedMotoServer; the embedded cloud cannot "
                "guard its port (slipway/local/cloud.py)"
            )
        wsgi_server.app = guarded_wsgi(
            wsgi_server.app, self.credentials, moto_patches.issued_by_sts
        )
        return self

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        self.executor.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> EmbeddedCloud:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
