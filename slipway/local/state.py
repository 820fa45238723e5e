"""Where a running embedded cloud is: the state file shared by the daemon and the CLI."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".slipway" / "local"
DEFAULT_PORT = 4750


def state_dir() -> Path:
    return Path(os.environ.get("SLIPWAY_LOCAL_DIR", DEFAULT_STATE_DIR))


@dataclass
class LocalState:
    pid: int
    endpoint_url: str
    routes: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def path(cls, directory: Path | None = None) -> Path:
        return (directory or state_dir()) / "state.json"

    @classmethod
    def load(cls, directory: Path | None = None) -> LocalState | None:
        try:
            return cls(**json.loads(cls.path(directory).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def save(self, directory: Path | None = None) -> None:
        path = self.path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(self), indent=2))
        partial.replace(path)

    def is_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def local_url(self, function_url: str) -> str | None:
        return self.routes.get(function_url)
