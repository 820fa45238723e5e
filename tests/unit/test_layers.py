"""The packages form layers without a cycle, each package's imports are shipped with it, and
docs/architecture.md draws the layers as the code has them."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]
# bottom to top, for the picture; what each may import is ALLOWED below
LAYERS = ["registry", "model_runtime", "functions", "infra", "slipway"]
# the data plane and the control plane each stand on the registry alone, side by side
ALLOWED = {
    "registry": set(),
    "model_runtime": {"registry"},
    "functions": {"registry"},
    "infra": {"registry"},
    "slipway": {"registry", "model_runtime", "functions", "infra"},
    "app": {"infra"},
}
FIRST_PARTY = {*LAYERS, "app", "tests", "examples", "bench"}


def sources(package: str) -> list[Path]:
    if package == "app":
        return [REPO_ROOT / "app.py"]
    return sorted((REPO_ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in [*LAYERS, "app"]:
        used = {m.split(".")[0] for path in sources(package) for m in imported_modules(path)}
        graph[package] = (used & set(LAYERS)) - {package}
    return graph


def test_no_package_imports_one_above_or_beside_it():
    for package, used in package_graph().items():
        extra = used - ALLOWED[package]
        assert not extra, f"{package} imports {sorted(extra)}; it may import {ALLOWED[package]}"


def _sources_of(name: str) -> set[str]:
    """A tuple of folder names assigned in infra/code_assets.py, read without importing
    the CDK."""
    tree = ast.parse((REPO_ROOT / "infra" / "code_assets.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"infra/code_assets.py assigns no {name}")


@pytest.mark.parametrize("assignment", ["CONTROL_PLANE_SOURCES", "RUNTIME_SOURCES"])
def test_each_lambda_package_holds_every_slipway_module_its_code_imports(assignment):
    shipped = _sources_of(assignment)
    for package in shipped:
        used = {
            m.split(".")[0] for path in sources(package) for m in imported_modules(path)
        } & FIRST_PARTY
        assert used <= shipped, f"{package} imports {sorted(used - shipped)}, not in {assignment}"


def test_the_package_graph_has_no_cycle():
    graph = package_graph()
    visiting: list[str] = []

    def visit(package: str) -> None:
        assert package not in visiting, " -> ".join([*visiting, package])
        visiting.append(package)
        for other in graph.get(package, ()):
            visit(other)
        visiting.pop()

    for package in graph:
        visit(package)


def test_runtime_code_never_imports_the_cdk_or_infra():
    for package in ("registry", "model_runtime", "functions"):
        for path in sources(package):
            bad = {
                m for m in imported_modules(path) if m.split(".")[0] in ("aws_cdk", "constructs")
            }
            assert not bad, f"{path} imports {bad}"


def _diagram(graph: dict[str, set[str]]) -> str:
    width = max(len(name) for name in graph)
    lines = []
    for package in [*reversed(LAYERS), "app"]:
        used = sorted(graph[package], key=LAYERS.index, reverse=True)
        lines.append(f"{package.ljust(width)} -> {', '.join(used) or '(nothing)'}")
    return "\n".join(lines)


def test_the_architecture_page_draws_the_layers_the_code_has():
    page = (REPO_ROOT / "docs" / "architecture.md").read_text()
    match = re.search(
        r"<!-- layers:begin -->\n```text\n(.*?)\n```\n<!-- layers:end -->", page, re.S
    )
    assert match, "docs/architecture.md has no layer diagram between the layers markers"
    assert match.group(1) == _diagram(package_graph()), (
        "docs/architecture.md's layer diagram is out of date; it should read:\n"
        + _diagram(package_graph())
    )


# -- what each package imports is shipped with it ------------------------------------------


def third_party(packages: tuple[str, ...]) -> set[str]:
    """Distributions behind the non-standard, non-Slipway modules the packages import."""
    names = {
        module.split(".")[0]
        for package in packages
        for path in sources(package)
        for module in imported_modules(path)
    }
    names -= set(sys.stdlib_module_names) | FIRST_PARTY | {"__future__"}
    distributions = metadata.packages_distributions()
    return {_canonical(distributions[name][0]) for name in names}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def closure(requirements: tuple[str, ...]) -> set[str]:
    """The requirements and everything they depend on (as installed here)."""
    seen: set[str] = set()
    pending = [Requirement(line).name for line in requirements]
    while pending:
        name = _canonical(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def requirements_of(path: Path) -> tuple[str, ...]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)


LAMBDA_RUNTIME_PROVIDES = ("boto3", "botocore")


def test_the_control_plane_layer_holds_what_the_control_plane_imports():
    shipped = closure(
        requirements_of(REPO_ROOT / "functions" / "requirements.txt") + LAMBDA_RUNTIME_PROVIDES
    )
    missing = third_party(("registry", "functions")) - shipped
    assert not missing, f"functions/requirements.txt lacks {sorted(missing)}"


def test_the_runtime_image_holds_what_the_model_runtime_imports():
    from model_runtime.flavors import OPTIONAL_LIBRARIES

    shipped = closure(requirements_of(REPO_ROOT / "model_runtime" / "requirements.txt"))
    # an endpoint adds these when cdk.json asks (extra_libraries), for their flavors
    optional = {_canonical(name) for name in OPTIONAL_LIBRARIES.values()}
    missing = third_party(("registry", "model_runtime")) - shipped - optional
    assert not missing, f"model_runtime/requirements.txt lacks {sorted(missing)}"


def test_shipped_pins_are_the_projects_pins():
    project = {
        _canonical(Requirement(line).name): str(Requirement(line).specifier)
        for line in (REPO_ROOT / "constraints.txt").read_text().split()
        if line and not line.startswith("#")
    }
    for path in ("functions/requirements.txt", "model_runtime/requirements.txt"):
        for line in requirements_of(REPO_ROOT / path):
            requirement = Requirement(line)
            assert project[_canonical(requirement.name)] == str(requirement.specifier), (
                f"{path} pins {line}, the project {project[_canonical(requirement.name)]}"
            )
