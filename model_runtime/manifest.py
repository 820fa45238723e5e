"""The bundle manifest: the public contract of what a model artifact holds.

Unknown fields are an error, so a typo never silently drops lineage.

Format 2 types every input column (float, int, bool, string, category, datetime; nullable
or not), records the dtype the model was fitted with, and says whether the model takes a
DataFrame or an array. Format 1 bundles (one numeric or string dtype per feature, no
missing values, an array) still parse: their features are read as format-2 columns.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from model_runtime.exceptions import InvalidManifestError
from model_runtime.url_credentials import has_credentials
from registry.exam import Metric, direction_of
from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN
from registry.strict_json import StrictJsonError, load_strict_json

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 2
FORMAT_VERSIONS = (1, 2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ColumnType = Literal["float", "int", "bool", "string", "category", "datetime"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
# format 1's feature dtypes, and the column each one is
FORMAT_1_DTYPES: dict[str, str] = {
    "float64": "float",
    "float32": "float",
    "int64": "int",
    "int32": "int",
    "bool": "bool",
    "string": "string",
}


class Column(_Strict):
    """One input (or output) column: its JSON type, whether it may be null, and the dtype
    the model saw when it was fitted (numpy's or pandas', e.g. ``float32``, ``Int64``,
    ``object``, ``category``, ``datetime64[ns]``)."""

    name: str = Field(min_length=1)
    type: ColumnType
    nullable: bool = False
    dtype: str | None = Field(None, max_length=64)
    categories: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _categories_only_for_category(self) -> Column:
        if self.categories is not None and self.type != "category":
            raise ValueError(f"column {self.name!r}: categories are for type 'category' only")
        return self


class Signature(_Strict):
    inputs: list[Column] = Field(min_length=1)
    outputs: list[Column] = Field(min_length=1)
    model_input: Literal["array", "dataframe"] = Field(
        "array", description="a DataFrame with the fitted dtypes, or a 2-D array"
    )

    @field_validator("inputs")
    @classmethod
    def _unique_names(cls, value: list[Column]) -> list[Column]:
        names = [column.name for column in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"input columns must have unique names; repeated: {repeated}")
        return value


class InputExample(_Strict):
    inputs: list[list[Any] | dict[str, Any]] = Field(min_length=1)
    expected_output: list[Any] = Field(min_length=1)


def _format_1_signature(signature: Any) -> Any:
    """Format 1's ``{name, dtype}`` features as format-2 columns (already-read ones stay)."""
    if not isinstance(signature, dict):
        return signature

    def column(feature: Any) -> Any:
        if isinstance(feature, dict) and "type" not in feature and "dtype" in feature:
            extra = set(feature) - {"name", "dtype"}
            dtype = feature["dtype"]
            if extra or dtype not in FORMAT_1_DTYPES:
                return feature  # left as it is, for the validation to name the problem
            return {"name": feature.get("name"), "type": FORMAT_1_DTYPES[dtype], "dtype": dtype}
        return feature

    upgraded = dict(signature)
    for part in ("inputs", "outputs"):
        if isinstance(upgraded.get(part), list):
            upgraded[part] = [column(feature) for feature in upgraded[part]]
    return upgraded


def _no_credentials(value: str) -> str:
    if has_credentials(value):
        # the value itself is not repeated: it is the secret
        raise ValueError(
            "carries credentials (userinfo or a secret query parameter); lineage would "
            "publish them: record the URL without them"
        )
    return value


class CodeVersion(_Strict):
    repository: Annotated[str, AfterValidator(_no_credentials)]
    commit: str
    dirty: bool


class DatasetRef(_Strict):
    """One dataset the model was trained or judged on: where it is, its sha256 and rows.

    ``etag`` is the ETag S3 reported for the object version an ``s3://...?versionId=`` URI
    names (without its quotes), recorded by ``fetch_dataset``. It is written only when
    present: bundles without one are written as before, and runtimes that predate the field
    still read them (a bundle with one needs a runtime that knows it; docs/lineage.md).
    """

    role: Literal["train", "validation", "test", "evaluation"]
    uri: Annotated[str, AfterValidator(_no_credentials)]
    sha256: str
    rows: int = Field(ge=0)
    etag: str | None = Field(None, min_length=1, max_length=256, pattern=r"^[!#-~]+$")

    @model_serializer(mode="wrap")
    def _etag_only_when_recorded(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.etag is None and isinstance(data, dict):
            data.pop("etag", None)
        return data

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not SHA256_PATTERN.fullmatch(value):
            raise ValueError("must be 64 lowercase hex characters")
        return value


# Register writes the version, the model summary, the code edge and one edge per dataset in
# one DynamoDB transaction, which holds at most 100 items.
MAX_DATASETS = 50


class Lineage(_Strict):
    code: CodeVersion
    datasets: list[DatasetRef] = Field(default_factory=list, max_length=MAX_DATASETS)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    parent: str | None = None


class Evaluation(_Strict):
    """How the gate judges a candidate: a metric on a labelled CSV shipped in the bundle."""

    dataset: str = Field(description="path of a CSV inside the bundle, listed in files")
    target: str = Field(min_length=1, description="the CSV's label column")
    metric: Metric
    threshold: float
    direction: Literal["maximize", "minimize"]

    @model_validator(mode="after")
    def _direction_is_the_metrics(self) -> Evaluation:
        # the uploader does not choose which way is better: a model that always answers 0
        # once declared accuracy 'minimize' and beat a perfect live model
        if self.direction != direction_of(self.metric):
            raise ValueError(
                f"{self.metric} is {direction_of(self.metric)}d: direction must be "
                f"{direction_of(self.metric)!r}, not {self.direction!r}"
            )
        return self


Flavor = Literal["sklearn", "onnx", "python", "xgboost", "lightgbm"]
FLAVORS: tuple[str, ...] = get_args(Flavor)
FORMAT_1_FLAVORS = ("sklearn", "onnx", "python")


class Manifest(_Strict):
    format_version: Literal[1, 2] = FORMAT_VERSION
    name: str
    version: str
    flavor: Flavor
    model_file: str
    signature: Signature
    input_example: InputExample
    files: dict[str, str]
    lineage: Lineage
    evaluation: Evaluation | None = None
    runtime: dict[str, str] = Field(default_factory=dict)
    created_at: str

    @model_validator(mode="before")
    @classmethod
    def _read_format_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format_version") == 1:
            return {**data, "signature": _format_1_signature(data.get("signature"))}
        return data

    @model_validator(mode="after")
    def _format_1_has_only_format_1_features(self) -> Manifest:
        """A bundle that says format 1 is read by format 1's rules: runtimes that know only
        format 1 would misread typed, nullable or DataFrame signatures, so it may not use them."""
        if self.format_version != 1:
            return self
        problems = []
        for part, columns in (
            ("inputs", self.signature.inputs),
            ("outputs", self.signature.outputs),
        ):
            for column in columns:
                where = f"signature.{part}.{column.name}"
                if (
                    column.dtype not in FORMAT_1_DTYPES
                    or FORMAT_1_DTYPES[column.dtype] != column.type
                ):
                    problems.append(
                        f"{where}: format 1 has dtypes {', '.join(FORMAT_1_DTYPES)} only, "
                        f"not type {column.type!r} with dtype {column.dtype!r}"
                    )
                if column.nullable:
                    problems.append(f"{where}: nullable columns need format_version 2")
                if column.categories is not None:
                    problems.append(f"{where}: categories need format_version 2")
        if self.signature.model_input != "array":
            problems.append("signature.model_input 'dataframe' needs format_version 2")
        if self.flavor not in FORMAT_1_FLAVORS:
            problems.append(f"flavor {self.flavor!r} needs format_version 2")
        if problems:
            raise ValueError("format_version 1: " + "; ".join(problems))
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError("use lowercase letters, digits and dashes (1-64 characters)")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_PATTERN.fullmatch(value):
            raise ValueError("use letters, digits, '.', '_' and '-' (1-64 characters)")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str]) -> dict[str, str]:
        for path, digest in value.items():
            if path == MANIFEST_FILE:
                raise ValueError("manifest.json cannot list itself")
            if not SHA256_PATTERN.fullmatch(digest):
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


# What the registry keeps of a manifest must fit one DynamoDB item (400 KB) with room to
# spare; a manifest is metadata, never data.
MAX_MANIFEST_BYTES = 256 * 1024


def parse_manifest(raw: bytes | str) -> Manifest:
    """Parse and validate manifest.json, reporting every problem in one message."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifestError(
            f"manifest.json has {len(raw)} bytes; the limit is {MAX_MANIFEST_BYTES}: keep data "
            "(large input examples, parameters) in files of the bundle"
        )
    try:
        data = load_strict_json(raw)
    except StrictJsonError as exc:
        raise InvalidManifestError(f"manifest.json: {exc}") from None
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
