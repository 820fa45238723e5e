"""The single-table key schema. Every item's keys are built here and nowhere else.

| item            | PK                      | SK                                   |
| --------------- | ----------------------- | ------------------------------------ |
| model version   | MODEL#<name>            | VERSION#<version>                    |
| validated manifest | MODEL#<name>         | VALIDATED#<version>#<sha256>         |
| upload declaration | MODEL#<name>         | UPLOAD#<version>                     |
| stage pointer   | MODEL#<name>            | STAGE#<stage>                        |
| audit event     | MODEL#<name>            | AUDIT#<version>#<execution>#<step>   |
| promotion lock  | MODEL#<name>            | LOCK                                 |
| waiting for it  | MODEL#<name>            | WAITING#<execution>                  |
| newest arrival  | MODEL#<name>            | NEWEST                               |
| model summary   | MODEL#<name>            | MODEL   (GSI gsi1: MODELS / <name>)  |
| monitor report  | MODEL#<name>            | MONITOR#<version>#<window end>       |
| attestation     | MODEL#<name>            | ATTESTATION#<version>#<issued at>    |
| received one    | MODEL#<name>            | RECEIVED#<version>#<statement sha256> |
| dataset edge    | DATASET#<sha256>        | MODEL#<name>#VERSION#<version>       |
| code edge       | CODE#<repository>@<commit> | MODEL#<name>#VERSION#<version>    |
"""

from __future__ import annotations

from registry.audit import AuditStep
from registry.statuses import Stage

PK = "pk"
SK = "sk"


def model_pk(name: str) -> str:
    return f"MODEL#{name}"


def version_sk(version: str) -> str:
    return f"VERSION#{version}"


VERSION_PREFIX = "VERSION#"


def validated_sk(version: str, digest: str) -> str:
    return f"VALIDATED#{version}#{digest}"


def upload_sk(version: str) -> str:
    return f"UPLOAD#{version}"


def stage_sk(stage: Stage) -> str:
    return f"STAGE#{stage}"


LOCK_SK = "LOCK"
WAITING_PREFIX = "WAITING#"
NEWEST_SK = "NEWEST"


def waiting_sk(execution: str) -> str:
    return f"{WAITING_PREFIX}{execution}"


MODEL_SK = "MODEL"
MODELS_INDEX = "gsi1"
MODELS_INDEX_PK = "gsi1pk"
MODELS_INDEX_SK = "gsi1sk"
MODELS_PARTITION = "MODELS"


def audit_sk(version: str, execution: str, step: AuditStep) -> str:
    return f"AUDIT#{version}#{execution}#{step}"


def audit_prefix(version: str) -> str:
    return f"AUDIT#{version}#"


MONITOR_PREFIX = "MONITOR#"


def monitor_sk(version: str, window_end: str) -> str:
    """A monitor report's summary: one per version and window end (registry/
    monitoring_reports.py formats the end), so a re-run of a window overwrites it, and a
    version's reports sort by time."""
    return f"{MONITOR_PREFIX}{version}#{window_end}"


def monitor_prefix(version: str) -> str:
    return f"{MONITOR_PREFIX}{version}#"


ATTESTATION_PREFIX = "ATTESTATION#"


def attestation_sk(version: str, issued_at: str) -> str:
    """An attestation this environment issued about a version: sorted by time."""
    return f"{ATTESTATION_PREFIX}{version}#{issued_at}"


def attestation_prefix(version: str) -> str:
    return f"{ATTESTATION_PREFIX}{version}#"


def received_sk(version: str, statement_sha256: str) -> str:
    """An earlier environment's attestation VerifyProvenance verified, until Register puts
    it on the version (the step runs before the version exists)."""
    return f"RECEIVED#{version}#{statement_sha256}"


def dataset_pk(sha256: str) -> str:
    return f"DATASET#{sha256}"


def code_pk(repository: str, commit: str) -> str:
    return f"CODE#{repository}@{commit}"


def edge_sk(name: str, version: str) -> str:
    return f"MODEL#{name}#VERSION#{version}"


def create_table_request(table_name: str) -> dict[str, object]:
    """The table's key schema as a CreateTable request, for moto-backed tests and benchmarks.

    infra/lineage_table.py declares the same keys for CloudFormation; a test checks they agree.
    """
    attributes = (PK, SK, MODELS_INDEX_PK, MODELS_INDEX_SK)
    return {
        "TableName": table_name,
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": MODELS_INDEX,
                "KeySchema": [
                    {"AttributeName": MODELS_INDEX_PK, "KeyType": "HASH"},
                    {"AttributeName": MODELS_INDEX_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
