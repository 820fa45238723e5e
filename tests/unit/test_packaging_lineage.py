"""Lineage a bundle records without being told: the code, the data and the libraries."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

import sklearn

from model_runtime.packaging import capture_code_version, describe_dataset, runtime_versions


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_code_version_is_the_commit_remote_and_dirty_flag_of_the_working_tree(tmp_path):
    repo = tmp_path / "project"
    (repo / "train").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "train" / "train.py").write_text("print('fit')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://example.com/team/models.git")

    clean = capture_code_version(repo / "train")
    assert clean.commit == git(repo, "rev-parse", "HEAD")
    assert clean.repository == "https://example.com/team/models.git"
    assert clean.dirty is False

    (repo / "train" / "train.py").write_text("print('fit differently')\n")
    assert capture_code_version(repo / "train").dirty is True


def test_outside_a_repository_the_code_version_says_so(tmp_path):
    version = capture_code_version(tmp_path)
    assert (version.commit, version.dirty) == ("unknown", True)
    assert version.repository == f"file://{tmp_path.resolve()}"


def test_a_dataset_is_described_by_its_digest_rows_and_uri(tmp_path):
    data = tmp_path / "train.csv"
    data.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n")
    described = describe_dataset(data, "train")
    assert described.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert described.rows == 3
    assert described.uri == data.resolve().as_uri()
    remote = describe_dataset(data, "evaluation", uri="s3://data/train.csv")
    assert (remote.role, remote.uri) == ("evaluation", "s3://data/train.csv")


def test_runtime_versions_name_python_and_the_flavors_libraries():
    versions = runtime_versions("sklearn")
    assert versions["python"] == platform.python_version()
    assert versions["scikit-learn"] == sklearn.__version__
    assert {"skops", "numpy"} <= set(versions)
