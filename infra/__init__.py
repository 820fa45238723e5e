"""CDK constructs and stacks. Nothing here runs inside AWS; runtime code is referenced by path."""
