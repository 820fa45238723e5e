"""The registry's questions and decisions, shared by the registry API and its tests."""
