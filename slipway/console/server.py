"""The console running: uvicorn on a thread of its own, on 127.0.0.1 only, with a new secret
per start. ``slipway ui`` starts one and waits; tests start one on a free port."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from slipway.console.app import create_console_app
from slipway.console.registry_client import RegistryClient, SignedRegistryClient
from slipway.target import Target

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
STARTUP_SECONDS = 10.0
STOP_SECONDS = 5.0


@dataclass
class RunningConsole:
    """A console serving on ``port``; ``url`` carries the secret (open it once: the token
    becomes a cookie)."""

    port: int
    secret: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _socket: socket.socket = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.secret}"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=STOP_SECONDS)
        self._socket.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in ``slipway ui``)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)


def start_console(target: Target, port: int = 0) -> RunningConsole:
    """The console of ``target``'s registry, its calls signed with the target's credentials."""
    return start_console_with(SignedRegistryClient(target), target.config.name, port)


def start_console_with(registry: RegistryClient, environment: str, port: int = 0) -> RunningConsole:
    """The console over any registry client (tests give one over the registry app itself)."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not a TCP port")
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.bind((HOST, port))
        listener.listen(64)
    except OSError:
        listener.close()
        raise
    bound = int(listener.getsockname()[1])
    secret = secrets.token_urlsafe(32)
    app = create_console_app(registry, port=bound, secret=secret, environment=environment)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # nothing stands in front of it
        server_header=False,
        timeout_keep_alive=30,
        limit_concurrency=64,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="slipway-console", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            raise RuntimeError("the console's server did not start")
        time.sleep(0.01)
    return RunningConsole(bound, secret, server, thread, listener)
