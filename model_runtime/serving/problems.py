"""The endpoint's errors as problem+json, in the vocabulary every Slipway API shares
(``registry/problems.py``): each runtime exception has one kind; other runtime errors mean
the model cannot be loaded (503); anything unexpected is a logged 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from model_runtime.exceptions import (
    CandidateOnlyError,
    InvalidInputError,
    InvalidRequestError,
    ModelNotFoundError,
    ModelOutputError,
    PayloadTooLargeError,
    PythonFlavorNotAllowedError,
    SlipwayRuntimeError,
)
from model_runtime.serving.metrics import logger
from registry import problems

SERVING_PROBLEMS: dict[type[Exception], problems.ProblemType] = {
    InvalidInputError: problems.INVALID_INPUT,
    ModelNotFoundError: problems.MODEL_NOT_FOUND,
    CandidateOnlyError: problems.MODEL_NOT_FOUND,
    InvalidRequestError: problems.BAD_REQUEST,
    PayloadTooLargeError: problems.PAYLOAD_TOO_LARGE,
    ModelOutputError: problems.MODEL_OUTPUT,
    PythonFlavorNotAllowedError: problems.MODEL_UNAVAILABLE,
}

_MEANING = {
    400: "the body is not JSON or not {inputs: [...]}, or a parameter is malformed",
    404: "no such model, stage or version on this endpoint",
    413: "too many rows or too large a body; the detail says how to split",
    422: "an input does not fit the model's signature; the detail names row and feature",
    500: "the model's answer cannot be sent, or an unexpected error (logged)",
    503: "the model cannot be loaded; the detail is the verification or load error",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the endpoint's problem answers."""
    return problems.problem_responses(_MEANING, *statuses)


def install_problem_handlers(app: FastAPI) -> None:
    problems.install_problem_handlers(
        app,
        logger,
        SERVING_PROBLEMS,
        bases=(SlipwayRuntimeError,),
        fallback=problems.MODEL_UNAVAILABLE,
    )
