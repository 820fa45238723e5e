"""Iris species classifier: the smallest real model that exercises the whole loop."""
