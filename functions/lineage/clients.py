"""AWS resources created once per container and shared by the handlers that need them."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from functions.constants import TABLE_NAME
from functions.lineage.repository import LineageRepository


@cache
def lineage_repository(table_name: str | None = None) -> LineageRepository:
    """The repository over the table named by the environment (or ``table_name``)."""
    table: Any = boto3.resource("dynamodb").Table(table_name or os.environ[TABLE_NAME])
    return LineageRepository(table)
