"""The data plane: artifact format, safe loading, model flavors, serving app and model jobs.

Nothing in this package imports ``aws_cdk``; it is what runs inside the runtime image.
"""
