"""Identifiers are checked whole: a trailing newline is not part of a valid name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from model_runtime.manifest import Manifest
from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN, name_and_version_of_key


@pytest.mark.parametrize(
    ("pattern", "valid"),
    [(NAME_PATTERN, "iris"), (VERSION_PATTERN, "1.2"), (SHA256_PATTERN, "a" * 64)],
)
def test_a_trailing_newline_is_refused(pattern, valid):
    assert pattern.fullmatch(valid)
    assert not pattern.fullmatch(valid + "\n")


def test_an_upload_key_with_a_trailing_newline_names_no_model():
    assert name_and_version_of_key("models/iris/1/bundle.tar.gz") == ("iris", "1")
    assert name_and_version_of_key("models/iris/1/bundle.tar.gz\n") is None


@pytest.mark.parametrize("field", ["name", "version"])
def test_a_manifest_naming_itself_with_a_trailing_newline_is_refused(iris_bundle, field):
    # GIVEN a real manifest WHEN its name or version ends in a newline
    _, manifest = iris_bundle
    document = manifest.model_dump(mode="json")
    document[field] += "\n"
    # THEN it does not validate
    with pytest.raises(ValidationError, match=field):
        Manifest.model_validate(document)
