"""RecordFailure turns a Step Functions error into one readable reason."""

from __future__ import annotations

import json

from functions.record_failure.handler import failure_reason, subject_of


def test_reason_uses_the_lambda_error_message():
    error = {
        "Error": "CorruptBundleError",
        "Cause": json.dumps(
            {"errorType": "CorruptBundleError", "errorMessage": "model.skops has sha256 x"}
        ),
    }
    assert failure_reason(error) == "CorruptBundleError: model.skops has sha256 x"


def test_reason_survives_a_plain_text_cause():
    assert failure_reason({"Error": "States.Timeout", "Cause": "took too long"}) == (
        "States.Timeout: took too long"
    )


def test_subject_comes_from_the_key_when_the_manifest_is_unknown():
    assert subject_of({"key": "models/iris/7/bundle.tar.gz"}) == ("iris", "7")
    assert subject_of({"key": "elsewhere/file"})[0] == "_unrecognised-uploads"


def test_reason_without_a_cause_is_the_error_type():
    assert failure_reason({"Error": "ApprovalRejected", "Cause": None}) == "ApprovalRejected"
    assert failure_reason({}) == "UnknownError"
