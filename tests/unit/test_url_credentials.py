"""Secrets in git remotes and dataset URLs never reach lineage."""

from __future__ import annotations

import subprocess

import pytest
from pydantic import ValidationError

from model_runtime.manifest import Manifest
from model_runtime.packaging import capture_code_version, describe_dataset
from model_runtime.url_credentials import has_credentials, scrub_credentials

TOKEN = "ghp_0123456789abcdefSECRET"


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        (
            f"https://x-access-token:{TOKEN}@github.com/org/repo.git",
            "https://github.com/org/repo.git",
        ),
        (f"https://{TOKEN}@github.com/org/repo", "https://github.com/org/repo"),
        (
            f"https://oauth2:{TOKEN}@gitlab.example/team/repo.git",
            "https://gitlab.example/team/repo.git",
        ),
        (
            f"https://bucket.s3.amazonaws.com/train.csv?X-Amz-Signature={TOKEN}&X-Amz-Credential=AKIA&v=2",
            "https://bucket.s3.amazonaws.com/train.csv?v=2",
        ),
        (
            f"https://store.example/data.csv?sig={TOKEN}&sv=2024",
            "https://store.example/data.csv?sv=2024",
        ),
        (f"https://h.example/r?access_token={TOKEN}", "https://h.example/r"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("s3://bucket/data/train.csv", "s3://bucket/data/train.csv"),
    ],
)
def test_credentials_are_found_and_scrubbed(url, clean):
    assert scrub_credentials(url) == clean
    assert TOKEN not in scrub_credentials(url)
    assert has_credentials(url) == (url != clean)
    assert not has_credentials(clean)


def test_a_token_in_the_origin_url_is_not_recorded(tmp_path):
    # GIVEN a git working tree whose origin URL carries a token
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("remote", "add", "origin", f"https://x-access-token:{TOKEN}@github.com/org/repo.git")
    (tmp_path / "train.py").write_text("print('hi')\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first")
    # WHEN packaging captures the code version and a presigned dataset URL
    code = capture_code_version(tmp_path)
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    dataset = describe_dataset(
        data, "train", uri=f"https://b.s3.amazonaws.com/t.csv?X-Amz-Security-Token={TOKEN}"
    )
    # THEN neither records the token
    assert code.repository == "https://github.com/org/repo.git"
    assert TOKEN not in dataset.uri


def test_a_manifest_carrying_credentials_is_refused_without_echoing_them(iris_bundle):
    # GIVEN a manifest built by hand with a token in its code repository
    _, manifest = iris_bundle
    document = manifest.model_dump(mode="json")
    document["lineage"]["code"]["repository"] = f"https://user:{TOKEN}@github.com/org/repo"
    # WHEN it is validated THEN it is refused, and the error does not repeat the secret
    with pytest.raises(ValidationError, match="carries credentials") as refused:
        Manifest.model_validate(document)
    assert TOKEN not in str(refused.value)
