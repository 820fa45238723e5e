"""DataCapture: captured requests and feedback from the endpoints' logs into the bucket.

The endpoint writes one log line per captured request (and per feedback request); nothing
on the request path calls an API. Each live endpoint's log group has two subscription
filters, one per kind of line, each to an Amazon Data Firehose stream. Firehose decompresses
what CloudWatch Logs sends (gzip), keeps only the log messages (one JSON object each, a
newline after each), buffers
them and writes gzip objects under ``capture/YYYY/MM/DD/HH/`` or ``feedback/YYYY/MM/DD/HH/``
(UTC), encrypted like the bucket: a layout Athena can query with partition projection.

CloudWatch Logs allows two subscription filters per log group, and these are the two.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.observability_defaults import Observability
from registry.names import CAPTURE_PREFIX, FEEDBACK_PREFIX

# (construct id, prefix, the log line's "message"): model_runtime/serving/capture.py
CAPTURE_KINDS = (("Capture", CAPTURE_PREFIX, "capture"), ("Feedback", FEEDBACK_PREFIX, "feedback"))
# Firehose writes an object when either fills: an hour's traffic of a quiet endpoint is a
# few objects, a busy one's 64 MiB each (Firehose's largest buffer is 128 MiB).
BUFFER_SECONDS = 300
BUFFER_MIB = 64
# What Firehose's role needs to write into an S3 destination (Amazon Data Firehose developer
# guide, "Grant Firehose access to an Amazon S3 destination"), each on its own resource.
BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")


def error_prefix(prefix: str) -> str:
    """Where Firehose puts what it could not deliver: 'capture/' -> 'capture-errors/'."""
    return prefix.rstrip("/") + "-errors/"


class DataCapture(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        log_groups: dict[str, logs.ILogGroup],
        observability: Observability,
    ) -> None:
        super().__init__(scope, id_)
        self.streams: dict[str, firehose.IDeliveryStream] = {}
        for kind, prefix, message in CAPTURE_KINDS:
            stream = self._stream(kind, prefix, bucket, observability)
            self.streams[message] = stream
            for endpoint, log_group in log_groups.items():
                logs.SubscriptionFilter(
                    self,
                    f"{kind}-{endpoint}",
                    log_group=log_group,
                    destination=destinations.FirehoseDestination(stream),
                    filter_pattern=logs.FilterPattern.string_value("$.message", "=", message),
                )

    def _stream(
        self, kind: str, prefix: str, bucket: s3.IBucket, observability: Observability
    ) -> firehose.IDeliveryStream:
        """A stream written with CloudFormation's own resource: the CDK's S3 destination
        grants its role read, write and delete on the whole bucket, bundles included; this
        role may write only under its own prefixes."""
        role = iam.Role(
            self,
            f"{kind}DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"Firehose writes {prefix} and {error_prefix(prefix)} only",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=list(BUCKET_ACTIONS), resources=[bucket.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(OBJECT_ACTIONS),
                resources=[
                    bucket.arn_for_objects(f"{prefix}*"),
                    bucket.arn_for_objects(f"{error_prefix(prefix)}*"),
                ],
            )
        )
        if bucket.encryption_key is not None:
            # what the developer guide lists for an SSE-KMS bucket, used through S3 only
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[bucket.encryption_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"
                        }
                    },
                )
            )
        log_group = observability.log_group(self, f"{kind}DeliveryLogs")
        log_stream = logs.LogStream(self, f"{kind}DeliveryErrors", log_group=log_group)
        log_group.grant_write(role)
        destination = firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
            bucket_arn=bucket.bucket_arn,
            role_arn=role.role_arn,
            prefix=prefix,
            error_output_prefix=error_prefix(prefix),
            compression_format="GZIP",
            buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=BUFFER_MIB
            ),
            encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                    awskms_key_arn=bucket.encryption_key.key_arn
                )
            )
            if bucket.encryption_key is not None
            else None,
            processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                enabled=True,
                processors=[
                    # CloudWatch Logs sends gzip records of log events: keep the messages
                    firehose.CfnDeliveryStream.ProcessorProperty(
                        type="Decompression",
                        parameters=[
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="CompressionFormat", parameter_value="GZIP"
                            )
                        ],
                    ),
                    firehose.CfnDeliveryStream.ProcessorProperty(
                        type="CloudWatchLogProcessing",
                        parameters=[
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="DataMessageExtraction", parameter_value="true"
                            )
                        ],
                    ),
                    # one message a line, whatever extraction joins them with: Athena's JSON
                    # reader and the job's fast path read lines
                    firehose.CfnDeliveryStream.ProcessorProperty(type="AppendDelimiterToRecord"),
                ],
            ),
            cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                enabled=True,
                log_group_name=log_group.log_group_name,
                log_stream_name=log_stream.log_stream_name,
            ),
        )
        stream = firehose.CfnDeliveryStream(
            self,
            f"{kind}Stream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=destination,
        )
        stream.node.add_dependency(role)  # its policy must exist before Firehose checks it
        return firehose.DeliveryStream.from_delivery_stream_attributes(
            self, f"{kind}StreamRef", delivery_stream_arn=stream.attr_arn
        )
