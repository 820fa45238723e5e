"""A warm Lambda worker: imports one function's deployed code once, then serves invocations.

Run as ``python worker.py CODE_DIR HANDLER``. Requests arrive as JSON lines on stdin; answers
leave as JSON lines on the original stdout; everything the function prints (stdout and
stderr) goes to stderr, which the executor turns into the function's log stream.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Mangum use."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("SLIPWAY_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self._deadline_ms - time.time() * 1000), 0)


def _isolate(code_dir: Path) -> None:
    """Import the deployed package, never the repository's copy of the same modules."""
    here = Path(__file__).resolve().parent
    repo_root = here.parent.parent
    sys.path[:] = [str(code_dir)] + [
        entry for entry in sys.path if entry and Path(entry).resolve() not in (here, repo_root)
    ]
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if "editable" not in type(finder).__module__.lower()
        and "editable" not in getattr(finder, "__name__", "").lower()
    ]


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def _platform_line(line: str) -> None:
    """Write one of Lambda's own log lines in a single write, so that a function thread
    printing at the same moment cannot split it (it may still precede it on one line)."""
    sys.stderr.flush()
    os.write(2, f"{line}\n".encode())


def main() -> None:
    code_dir, handler_name = Path(sys.argv[1]), sys.argv[2]
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    requests = os.fdopen(os.dup(0), "r")
    os.dup2(2, 1)  # what the function prints is log output
    sys.stdout = sys.stderr
    # the function's own standard input is empty, as in Lambda; requests come on a copy
    with open(os.devnull) as empty:
        os.dup2(empty.fileno(), 0)
    _isolate(code_dir)
    init_error: dict[str, Any] | None = None
    handler = None
    try:
        handler = _load_handler(handler_name)
    except Exception as exc:
        traceback.print_exc()
        init_error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exc().splitlines(),
        }
    for line in requests:
        request = json.loads(line)
        request_id = request["request_id"]
        _platform_line(f"START RequestId: {request_id} Version: $LATEST")
        started = time.monotonic()
        if init_error is not None:
            answer = {"ok": False, "payload": init_error, "init_failed": True}
        else:
            try:
                context = LambdaContext(request_id, request["deadline_ms"])
                result = handler(request["event"], context)  # type: ignore[misc]
                answer = {"ok": True, "payload": result}
            except Exception as exc:
                traceback.print_exc()
                answer = {
                    "ok": False,
                    "payload": {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exc().splitlines(),
                    },
                }
        elapsed_ms = (time.monotonic() - started) * 1000
        _platform_line(f"END RequestId: {request_id}")
        _platform_line(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms")
        try:
            encoded = json.dumps({"request_id": request_id, **answer})
        except Exception as exc:  # TypeError, ValueError, RecursionError: not JSON
            encoded = json.dumps(
                {
                    "request_id": request_id,
                    "ok": False,
                    "payload": {
                        "errorType": "Runtime.MarshalError",
                        "errorMessage": f"Unable to marshal response: {exc}",
                    },
                }
            )
        answers.write(encoded + "\n")
        if init_error is not None:
            # Lambda discards an environment whose initialisation failed; the next
            # invocation starts a new one, which imports the function again
            return


if __name__ == "__main__":
    main()
