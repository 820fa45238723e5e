"""The bundle manifest: the public contract of what a model artifact holds.

Unknown fields are an error, so a typo never silently drops lineage.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model_runtime.exceptions import InvalidManifestError
from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    name: str = Field(min_length=1)
    dtype: Literal["float64", "float32", "int64", "int32", "bool", "string"]


class Signature(_Strict):
    inputs: list[Feature] = Field(min_length=1)
    outputs: list[Feature] = Field(min_length=1)


class InputExample(_Strict):
    inputs: list[list[Any]] = Field(min_length=1)
    expected_output: list[Any] = Field(min_length=1)


class CodeVersion(_Strict):
    repository: str
    commit: str
    dirty: bool


class DatasetRef(_Strict):
    role: Literal["train", "validation", "test", "evaluation"]
    uri: str
    sha256: str
    rows: int = Field(ge=0)

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not SHA256_PATTERN.match(value):
            raise ValueError("must be 64 lowercase hex characters")
        return value


class Lineage(_Strict):
    code: CodeVersion
    datasets: list[DatasetRef] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    parent: str | None = None


Metric = Literal["accuracy", "f1_macro", "precision_macro", "recall_macro", "rmse", "mae", "r2"]
METRICS: tuple[str, ...] = get_args(Metric)
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


def default_direction(metric: str) -> Literal["maximize", "minimize"]:
    """Errors are minimised, scores maximised."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


class Evaluation(_Strict):
    """How the gate judges a candidate: a metric on a labelled CSV shipped in the bundle."""

    dataset: str = Field(description="path of a CSV inside the bundle, listed in files")
    target: str = Field(min_length=1, description="the CSV's label column")
    metric: Metric
    threshold: float
    direction: Literal["maximize", "minimize"]


class Manifest(_Strict):
    format_version: Literal[1] = FORMAT_VERSION
    name: str
    version: str
    flavor: Literal["sklearn", "onnx", "python"]
    model_file: str
    signature: Signature
    input_example: InputExample
    files: dict[str, str]
    lineage: Lineage
    evaluation: Evaluation | None = None
    runtime: dict[str, str] = Field(default_factory=dict)
    created_at: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("use lowercase letters, digits and dashes (1-64 characters)")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError("use letters, digits, '.', '_' and '-' (1-64 characters)")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str]) -> dict[str, str]:
        for path, digest in value.items():
            if path == MANIFEST_FILE:
                raise ValueError("manifest.json cannot list itself")
            if not SHA256_PATTERN.match(digest):
                raise ValueError(f"sha256 of {path!r} must be 64 lowercase hex characters")
        return value

    @model_validator(mode="after")
    def _model_file_is_listed(self) -> Manifest:
        if self.model_file not in self.files:
            raise ValueError(f"model_file {self.model_file!r} is not listed in files")
        if self.evaluation is not None and self.evaluation.dataset not in self.files:
            raise ValueError(
                f"evaluation.dataset {self.evaluation.dataset!r} is not listed in files"
            )
        return self


def parse_manifest(raw: bytes | str) -> Manifest:
    """Parse and validate manifest.json, reporting every problem in one message."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidManifestError(f"manifest.json is not valid JSON: {exc}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise InvalidManifestError(describe_validation_error("manifest.json", exc)) from None


def describe_validation_error(what: str, exc: ValidationError) -> str:
    """One readable line per problem, e.g. ``lineage.code.commit: Field required``."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{location}: {message}")
    return f"{what} has {len(problems)} problem(s): " + "; ".join(problems)
