"""A custom Python predictor: nearest centroid, with its parameters in a JSON file."""
