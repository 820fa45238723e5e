"""Nearest-centroid iris classifier: the python flavor's contract in a dozen lines, with a
helper module of its own (geometry.py) imported by its plain name."""

import json
from pathlib import Path

from geometry import nearest


class Predictor:
    def load(self, path: str) -> None:
        self.centroids = json.loads((Path(path) / "centroids.json").read_text())

    def predict(self, inputs: list[list[float]]) -> list[int]:
        return [nearest(row, self.centroids) for row in inputs]
