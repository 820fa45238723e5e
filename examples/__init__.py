"""End-to-end examples used by the demo and the tests."""
