"""The control plane: the promotion workflow's handlers, ingest, and the registry API.

Each handler is a few lines around a plain function that takes the state and its clients;
what every step is, reads and writes is declared in ``registry/workflow.py``. Nothing here
imports ``model_runtime`` or ``aws_cdk``; every handler is idempotent.
"""
