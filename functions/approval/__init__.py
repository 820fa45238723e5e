"""Lambda handler package."""
