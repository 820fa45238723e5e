"""Discarding a function's warm execution environments, as only a new configuration can.

A python-flavor candidate's code stays in the candidate function's warm environment after its
smoke test, where it could make later candidates' smoke tests fail or pass. Lambda has no
call to end environments; but once an update of the function's configuration is complete,
"the function is processing events with the new configuration" (GetFunctionConfiguration's
LastUpdateStatus), and an environment's variables are fixed when it starts: so changing one
variable means no environment that ran the candidate serves another request.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from model_runtime.exceptions import SmokeTestFailedError

GENERATION = "SLIPWAY_ENVIRONMENT_GENERATION"
RETRIED = ("ResourceConflictException", "PreconditionFailedException")
UPDATE_SECONDS = 120  # an update without a VPC completes in seconds


def discard_environments(lambda_client: Any, function: str) -> None:
    """Give ``function`` a new generation and wait until new requests get fresh environments.

    The variables are read and written back with the revision read (a deploy in between is
    not reverted: the update is refused and made again on the new revision)."""
    deadline = time.monotonic() + UPDATE_SECONDS
    while True:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
        environment = configuration.get("Environment") or {}
        if environment.get("Error"):
            raise SmokeTestFailedError(
                f"cannot renew {function}'s environments: its variables cannot be read "
                f"({environment['Error'].get('Message', environment['Error'])})"
            )
        variables = {**environment.get("Variables", {}), GENERATION: uuid.uuid4().hex}
        revision = (
            {"RevisionId": configuration["RevisionId"]} if "RevisionId" in configuration else {}
        )
        try:
            lambda_client.update_function_configuration(
                FunctionName=function, Environment={"Variables": variables}, **revision
            )
            break
        except ClientError as exc:
            # another update (a deploy, another smoke test's) came first: wait, then ours
            if exc.response["Error"]["Code"] not in RETRIED:
                raise
            _wait_a_little(deadline, function)
    while True:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
        status = configuration.get("LastUpdateStatus", "Successful")
        if status == "Successful":
            return
        if status == "Failed":
            raise SmokeTestFailedError(
                f"could not renew {function}'s environments after a python-flavor candidate: "
                f"{configuration.get('LastUpdateStatusReason', 'the update failed')}"
            )
        _wait_a_little(deadline, function)


def _wait_a_little(deadline: float, function: str) -> None:
    if time.monotonic() > deadline:
        raise SmokeTestFailedError(
            f"{function}'s configuration did not finish updating within {UPDATE_SECONDS} s; "
            "its environments may still hold a python-flavor candidate's code"
        )
    time.sleep(1)
