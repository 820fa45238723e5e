"""The runtime image builds from a pinned base, held to the project's constraints, on a machine
that can run its architecture; each rule checked here because a deploy would find it late."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from infra.code_assets import (
    CONSTRAINTS,
    REPO_ROOT,
    check_extra_libraries,
    stage_runtime_context,
)
from infra.config import ConfigError, load_environment
from infra.image_platform import emulation_warnings

DOCKERFILE = REPO_ROOT / "model_runtime" / "Dockerfile"
RUNTIME_REQUIREMENTS = REPO_ROOT / "model_runtime" / "requirements.txt"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        if version:
            pins[name.lower().replace("_", "-")] = version
    return pins


def _environment(name: str, **changes):
    environments = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]
    environments[name] = {**environments[name], **changes}
    return load_environment(environments, name)


def test_the_base_image_is_pinned_by_digest():
    # GIVEN the Dockerfile WHEN its base is resolved THEN a tag alone never names it
    instructions = _instructions()
    base = dict((arg.split("=", 1) for kind, arg in instructions if kind == "ARG" and "=" in arg))
    froms = [value for kind, value in instructions if kind == "FROM"]
    assert froms == ["${BASE_IMAGE}"]
    assert re.fullmatch(
        r"public\.ecr\.aws/lambda/python:3\.12@sha256:[0-9a-f]{64}", base["BASE_IMAGE"]
    )


def test_every_pip_install_in_the_image_follows_the_constraints():
    installs = [
        value for kind, value in _instructions() if kind == "RUN" and "pip install" in value
    ]
    assert len(installs) >= 2
    for command in installs:
        words = shlex.split(command.replace(";", " ; "))
        assert "--constraint" in words, command
        assert words[words.index("--constraint") + 1] == "/tmp/constraints.txt"


def test_the_staged_context_holds_everything_the_dockerfile_copies():
    # GIVEN the context CDK hands to Docker WHEN each COPY source is looked up THEN it is there
    context = stage_runtime_context()
    sources = [value.split()[0] for kind, value in _instructions() if kind == "COPY"]
    assert "constraints.txt" in sources
    for source in sources:
        assert (context / source).exists(), source
    assert (context / "constraints.txt").read_text() == CONSTRAINTS.read_text()


def test_the_runtime_requirements_agree_with_the_constraints():
    # a requirement pinned apart from constraints.txt fails the image's pip install
    constraints = _pins(CONSTRAINTS)
    for name, version in _pins(RUNTIME_REQUIREMENTS).items():
        assert constraints.get(name) == version, name


def test_extra_libraries_at_the_constraints_versions_pass():
    check_extra_libraries(["xgboost-cpu==3.2.0", "lightgbm==4.7.0"])
    check_extra_libraries(["a-library-the-constraints-do-not-hold==1.0"])


def test_extra_libraries_that_move_a_pin_are_refused_naming_each():
    with pytest.raises(ConfigError) as refused:
        check_extra_libraries(["lightgbm==4.0.0", "Scikit_Learn==1.0", "xgboost-cpu==3.2.0"])
    message = str(refused.value)
    assert "lightgbm==4.0.0 (constraints.txt holds lightgbm==4.7.0)" in message
    assert "Scikit_Learn==1.0 (constraints.txt holds Scikit_Learn==1.9.1)" in message
    assert "xgboost" not in message


def test_an_arm64_endpoint_on_an_x86_machine_without_emulation_is_warned_about(tmp_path):
    config = _environment("prod")
    arm64 = [e.name for e in config.endpoints if e.architecture == "arm64"]
    assert arm64, "prod ships an arm64 endpoint"
    warnings = emulation_warnings(config, machine="x86_64", system="linux", binfmt_misc=tmp_path)
    assert len(warnings) == 1
    assert f"endpoint '{arm64[0]}'" in warnings[0]
    assert "tonistiigi/binfmt --install arm64" in warnings[0]


def test_registered_emulation_or_a_matching_machine_needs_no_warning(tmp_path):
    config = _environment("prod")
    (tmp_path / "qemu-aarch64").write_text("enabled\n")
    assert emulation_warnings(config, machine="x86_64", system="linux", binfmt_misc=tmp_path) == []
    # on an arm64 machine the workflow's x86_64 steps need emulation in turn
    bare = tmp_path / "bare"
    bare.mkdir()
    warnings = emulation_warnings(config, machine="aarch64", system="linux", binfmt_misc=bare)
    assert len(warnings) == 1
    assert "promotion workflow's model steps" in warnings[0]
    assert "--install amd64" in warnings[0]


def test_the_embedded_cloud_and_other_systems_build_no_image(tmp_path):
    local = _environment("local")
    assert emulation_warnings(local, machine="aarch64", system="linux", binfmt_misc=tmp_path) == []
    prod = _environment("prod")
    assert emulation_warnings(prod, machine="x86_64", system="darwin", binfmt_misc=tmp_path) == []
