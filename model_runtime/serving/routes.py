"""The serving API: the same routes on every endpoint, in AWS and locally."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from model_runtime.model import LoadedModel
from model_runtime.model_store import ModelStore
from model_runtime.serving.dependencies import get_model_store

router = APIRouter()
ModelName = Path(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
VersionName = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[list[Any] | dict[str, Any]] = Field(min_length=1)


class PredictResponse(BaseModel):
    model: str
    version: str
    outputs: list[Any]


class ModelDescription(BaseModel):
    model: str
    stage: str
    version: str
    flavor: str
    signature: dict[str, Any]


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/models/{name}", response_model=ModelDescription)
def describe_model(
    name: str = ModelName,
    stage: Literal["live", "staging"] = "live",
    store: ModelStore = Depends(get_model_store),
) -> ModelDescription:
    version = store.version_for_stage(name, stage)
    item = store.version_item(name, version)
    return ModelDescription(
        model=name, stage=stage, version=version, flavor=item["flavor"], signature=item["signature"]
    )


@router.post("/v1/models/{name}/predict", response_model=PredictResponse)
def predict_stage(
    request: PredictRequest,
    response: Response,
    name: str = ModelName,
    stage: Literal["live", "staging"] = Query("live"),
    store: ModelStore = Depends(get_model_store),
) -> PredictResponse:
    return _predict(store.model(name, stage=stage), request, response)


@router.post("/v1/models/{name}/versions/{version}/predict", response_model=PredictResponse)
def predict_version(
    request: PredictRequest,
    response: Response,
    name: str = ModelName,
    version: str = VersionName,
    store: ModelStore = Depends(get_model_store),
) -> PredictResponse:
    return _predict(store.model(name, version=version), request, response)


def _predict(model: LoadedModel, request: PredictRequest, response: Response) -> PredictResponse:
    outputs = model.predict(request.inputs)
    response.headers["X-Model-Version"] = model.version
    return PredictResponse(model=model.name, version=model.version, outputs=outputs)
