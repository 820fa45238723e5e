"""The background process behind ``slipway local up``: embedded cloud + gateway until stopped.

python -m slipway.local.daemon --port 4750 --state-dir .slipway/local
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from slipway.local.credentials import LocalCredentials
from slipway.local.session import LocalSession
from slipway.local.state import DEFAULT_PORT, LocalState, state_dir


def main() -> None:
    # werkzeug logs each request line, presigned URLs' credentials included: errors only
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-dir", type=Path, default=state_dir())
    args = parser.parse_args()
    directory: Path = args.state_dir
    credentials = LocalCredentials.generate()
    state = LocalState(
        pid=os.getpid(),
        endpoint_url=f"http://localhost:{args.port}",
        access_key_id=credentials.access_key_id,
        secret_access_key=credentials.secret_access_key,
    )

    def routes_changed(routes: dict[str, str]) -> None:
        state.routes = routes
        state.save(directory)

    session = LocalSession(
        port=args.port,
        work_dir=directory / "work",
        on_routes_changed=routes_changed,
        first_gateway_port=args.port + 1,
        credentials=credentials,
    ).start()
    state.save(directory)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"embedded cloud at {state.endpoint_url} (pid {state.pid})", flush=True)
    stopped.wait()
    session.stop()
    LocalState.path(directory).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
