"""Where a running embedded cloud is: the state file the daemon writes and the CLI reads.

Only the daemon writes it (at start, and whenever a Function URL opens or closes). What each
environment deployed is not kept here but read from the cloud's CloudFormation
(``environments.py``): a second writer once lost every output whenever the daemon rewrote
the file for a second environment's routes.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from slipway.local.credentials import LocalCredentials

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".slipway" / "local"
DEFAULT_PORT = 4750


def state_dir() -> Path:
    return Path(os.environ.get("SLIPWAY_LOCAL_DIR", DEFAULT_STATE_DIR))


@dataclass
class LocalState:
    pid: int
    endpoint_url: str
    # this start's key (credentials.py): the file is readable by its owner only
    access_key_id: str = ""
    secret_access_key: str = ""
    routes: dict[str, str] = field(default_factory=dict)

    @property
    def credentials(self) -> LocalCredentials:
        return LocalCredentials(self.access_key_id, self.secret_access_key)

    @classmethod
    def path(cls, directory: Path | None = None) -> Path:
        return (directory or state_dir()) / "state.json"

    @classmethod
    def load(cls, directory: Path | None = None) -> LocalState | None:
        try:
            saved = json.loads(cls.path(directory).read_text())
            known = {f.name for f in fields(cls)}
            # a file written before a field was dropped (outputs) still says where the cloud is
            return cls(**{k: v for k, v in saved.items() if k in known})
        except (FileNotFoundError, json.JSONDecodeError, TypeError, AttributeError):
            return None

    def save(self, directory: Path | None = None) -> None:
        path = self.path(directory)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # a name of its own per write: the daemon's threads and the CLI save concurrently
        partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(asdict(self), indent=2))
        partial.replace(path)

    def is_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def local_url(self, function_url: str) -> str | None:
        return self.routes.get(function_url)
