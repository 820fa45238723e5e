"""Workflow steps that touch a model; they run in the runtime image, like serving does."""
