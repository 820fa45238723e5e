"""DataStack: the artifact bucket and the lineage table, the part of Slipway that must last."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.artifact_store import ArtifactStore
from infra.config import EnvironmentConfig
from infra.lineage_table import LineageTable


class DataStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any):
        super().__init__(scope, id_, **kwargs)
        self.artifact_store = ArtifactStore(
            self,
            "ArtifactStore",
            retain=config.retain_data,
            kms_key=config.kms_key,
            # custom resources do not run in the embedded cloud; `slipway local down` drops all
            empty_on_delete=not config.embedded,
            model_readers=tuple(config.model_readers),
            capture_retention_days=config.monitoring.capture_retention_days,
        )
        self.lineage_table = LineageTable(self, "LineageTable", retain=config.retain_data)
        CfnOutput(self, "ArtifactBucketName", value=self.artifact_store.bucket.bucket_name)
        CfnOutput(self, "LineageTableName", value=self.lineage_table.table.table_name)
        if self.artifact_store.key is not None:
            # another account reading models/ needs kms:Decrypt on this key in its own IAM
            # policy as well as the key policy's grant (docs/deploy.md)
            CfnOutput(self, "ArtifactKeyArn", value=self.artifact_store.key.key_arn)
