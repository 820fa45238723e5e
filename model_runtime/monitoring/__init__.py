"""Monitoring: the baseline a bundle carries, drift against it, and reading captured traffic."""
