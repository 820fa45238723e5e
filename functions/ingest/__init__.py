"""Ingest: S3 'Object Created' events (via EventBridge and SQS) start promotion executions."""
