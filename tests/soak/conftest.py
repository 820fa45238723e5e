"""The soak test runs on the workflow layer's embedded cloud: the same deployment fixture."""

from tests.workflow.conftest import deployed  # noqa: F401  (a fixture, found by name)
