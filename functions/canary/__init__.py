"""Canary release: a share of live traffic for the candidate, judged on its metrics."""
