"""Each flavor: built, verified, loaded and answering its own input example; refusals named."""

from __future__ import annotations

import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

from examples.iris_onnx.train import train_and_package as package_onnx
from examples.iris_python.train import train_and_package as package_python
from model_runtime.bundle import open_bundle
from model_runtime.exceptions import IncompatibleBundleError, ModelLoadError
from model_runtime.model import check_input_example, load_model
from model_runtime.packaging import BundleFacts, build_bundle, capture_code_version


@pytest.mark.parametrize("package", [package_onnx, package_python], ids=["onnx", "python"])
def test_flavor_round_trip(package, tmp_path):
    manifest = package(tmp_path / "b.tar.gz")
    bundle = open_bundle(tmp_path / "b.tar.gz", tmp_path / "x")
    model = load_model(bundle)
    assert check_input_example(model, bundle) == manifest.input_example.expected_output
    assert model.predict([[5.1, 3.5, 1.4, 0.2]]) == [0]
    assert manifest.runtime["python"]


def test_onnx_bundle_records_onnxruntime_version(tmp_path):
    manifest = package_onnx(tmp_path / "b.tar.gz")
    assert "onnxruntime" in manifest.runtime and "scikit-learn" not in manifest.runtime


def test_onnx_input_shape_must_match_the_signature(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from examples.iris.train import HERE, read_csv
    from examples.iris_onnx.train import export_onnx

    x, y = read_csv(HERE / "data" / "train.csv")
    onnx_file = export_onnx(
        LogisticRegression(max_iter=300).fit(x[:, :3], y), 3, tmp_path / "m.onnx"
    )
    facts = BundleFacts(
        name="bad",
        version="1",
        feature_names=["a", "b", "c", "d"],
        example_rows=[[1.0, 2.0, 3.0, 4.0]],
        code=capture_code_version(tmp_path),
        datasets=[],
    )
    with pytest.raises(ModelLoadError, match=re.escape("has shape [None, 3]; the signature has 4")):
        build_bundle("onnx", {"model.onnx": onnx_file}, "model.onnx", facts, tmp_path / "b.tar.gz")


def test_python_predictor_without_the_class_is_refused(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "predictor.py").write_text("class Model:\n    pass\n")
    facts = BundleFacts(
        name="bad",
        version="1",
        feature_names=["a"],
        example_rows=[[1.0]],
        code=capture_code_version(tmp_path),
        datasets=[],
    )
    with pytest.raises(ModelLoadError, match="defines no class 'Predictor'"):
        build_bundle(
            "python",
            {"predictor.py": folder / "predictor.py"},
            "predictor.py",
            facts,
            tmp_path / "b.tar.gz",
        )


def rewrite_manifest(path: Path, out: Path, change) -> Path:
    from model_runtime.manifest import parse_manifest
    from model_runtime.packaging import write_bundle

    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    data = json.loads(files.pop("manifest.json"))
    change(data)
    write_bundle(out, parse_manifest(json.dumps(data)), files)
    return out


@pytest.mark.parametrize("built", ["0.24.2", "1.0.0"], ids=["major", "minor"])
def test_another_scikit_learn_release_is_refused_naming_both_versions(iris_bundle, tmp_path, built):
    from importlib import metadata

    def age(data):
        data["runtime"]["scikit-learn"] = built

    old = rewrite_manifest(iris_bundle[0], tmp_path / "old.tar.gz", age)
    bundle = open_bundle(old, tmp_path / "x")
    installed = metadata.version("scikit-learn")
    line = ".".join(installed.split(".")[:2])
    with pytest.raises(
        IncompatibleBundleError,
        match=re.escape(
            f"built with scikit-learn {built}; this runtime has scikit-learn {installed} "
            f"(release lines differ): rebuild it with scikit-learn {line}.x"
        ),
    ):
        load_model(bundle)


def test_another_scikit_learn_patch_release_is_accepted(iris_bundle, tmp_path):
    from importlib import metadata

    major, minor, *_ = metadata.version("scikit-learn").split(".")

    def patch(data):
        data["runtime"]["scikit-learn"] = f"{major}.{minor}.99"

    other = rewrite_manifest(iris_bundle[0], tmp_path / "patch.tar.gz", patch)
    assert load_model(open_bundle(other, tmp_path / "x")).predict([[5.1, 3.5, 1.4, 0.2]]) == [0]


def test_another_onnxruntime_major_is_refused(tmp_path):
    package_onnx(tmp_path / "b.tar.gz")

    def age(data):
        data["runtime"]["onnxruntime"] = "0.5.0"

    old = rewrite_manifest(tmp_path / "b.tar.gz", tmp_path / "old.tar.gz", age)
    with pytest.raises(IncompatibleBundleError, match=r"onnxruntime 0\.5\.0; .*major versions"):
        load_model(open_bundle(old, tmp_path / "x"))


def test_forbidden_skops_type_is_refused_by_name(tmp_path):
    import skops.io as sio

    from model_runtime.exceptions import ForbiddenModelTypeError
    from model_runtime.flavors.sklearn import load_estimator

    path = tmp_path / "evil.skops"
    sio.dump({"model": Path("/etc/passwd")}, path)
    with pytest.raises(ForbiddenModelTypeError, match=r"pathlib\.\w*Path"):
        load_estimator(path)


def python_bundle(tmp_path: Path, label: str, factor: int) -> Path:
    """A python-flavor bundle whose predictor imports its own helper modules."""
    folder = tmp_path / label
    (folder / "helpers").mkdir(parents=True)
    (folder / "predictor.py").write_text(
        "import features\n"
        "from helpers.scale import FACTOR\n"
        "class Predictor:\n"
        "    def load(self, path):\n"
        "        self.label = features.LABEL\n"
        "    def predict(self, rows):\n"
        "        return [f'{self.label}:{features.total(row) * FACTOR}' for row in rows]\n"
    )
    (folder / "features.py").write_text(
        f"LABEL = {label!r}\ndef total(row):\n    return sum(row)\n"
    )
    (folder / "helpers" / "__init__.py").write_text("")
    (folder / "helpers" / "scale.py").write_text(f"FACTOR = {factor}\n")
    out = tmp_path / f"{label}.tar.gz"
    facts = {
        "name": label,
        "version": "1",
        "feature_names": ["a", "b"],
        "example_rows": [[1.0, 2.0]],
        "code": capture_code_version(tmp_path),
        "datasets": [],
        "output_dtype": "string",
    }
    from model_runtime.packaging import build_python_bundle

    build_python_bundle(folder, out=out, **facts)
    return out


def test_two_python_bundles_each_import_their_own_helpers_in_one_process(tmp_path):
    from model_runtime.bundle import open_bundle
    from model_runtime.model import load_model

    # GIVEN two bundles that each ship a features.py and a helpers package of their own
    first = load_model(open_bundle(python_bundle(tmp_path, "first", 10), tmp_path / "x1"))
    second = load_model(open_bundle(python_bundle(tmp_path, "second", 100), tmp_path / "x2"))
    # WHEN both serve in the same process
    # THEN each answers with its own modules, and neither is importable by its plain name
    assert first.predict([[1, 2]]) == ["first:30.0"]
    assert second.predict([[1, 2]]) == ["second:300.0"]
    assert first.predict([[1, 2]]) == ["first:30.0"]
    assert "features" not in sys.modules and "helpers" not in sys.modules
    assert not list((tmp_path / "x1").rglob("__pycache__"))
