"""Control-plane Lambda handlers and the lineage repository they share.

Nothing here imports ``aws_cdk``; every handler is thin and idempotent.
"""
