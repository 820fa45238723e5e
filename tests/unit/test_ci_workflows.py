"""The GitHub Actions examples (examples/ci/) pass actionlint, and a broken one does not.

actionlint's shellcheck and pyflakes integrations are turned off explicitly: they run
whatever shellcheck or pyflakes the machine has (or none), so the verdict would depend on the
machine. The run: scripts are short; docs/cicd.md says how to run shellcheck over them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
WORKFLOWS = sorted(CI.glob("*.yml"))
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_examples_are_the_four_workflows_docs_cicd_describes():
    assert [w.name for w in WORKFLOWS] == ["approve.yml", "promote.yml", "ship.yml", "test.yml"]


def test_every_example_workflow_passes_actionlint():
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        # an event's text interpolated into a script: injection
        (
            (
                'run: .venv/bin/pytest -q -m "unit or serving"',
                'run: echo "${{ github.event.pull_request.title }}"',
            ),
            "potentially untrusted",
        ),
        # a key GitHub does not know
        (("timeout-minutes: 30", "timeout-minute: 30"), "unexpected key"),
        # an expression that does not parse
        (("cancel-in-progress: true", "cancel-in-progress: ${{ true ) }}"), "[expression]"),
    ],
)
def test_actionlint_fails_a_broken_copy(tmp_path, change, finding):
    # GIVEN test.yml with one mistake
    source = (CI / "test.yml").read_text()
    old, new = change
    assert old in source
    broken = tmp_path / "test.yml"
    broken.write_text(source.replace(old, new))
    # THEN actionlint refuses it, naming the mistake
    result = actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert finding in result.stdout


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_and_jobs_are_bounded(path):
    workflow = yaml.safe_load(path.read_text())
    # a tag can be moved to other code; a full commit SHA cannot
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
    # the default token reads, nothing more; one run per group; every job has a time limit
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert isinstance(job["timeout-minutes"], int), name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_event_and_input_text_reaches_scripts_through_env_only(path):
    workflow = yaml.safe_load(path.read_text())
    for step in _steps(workflow):
        assert "${{" not in step.get("run", ""), step["run"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_only_jobs_that_assume_a_role_may_ask_for_an_oidc_token(path):
    workflow = yaml.safe_load(path.read_text())
    for name, job in workflow["jobs"].items():
        assumes = any(
            step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
            for step in job["steps"]
        )
        token = job.get("permissions", {}).get("id-token")
        assert token == ("write" if assumes else None), name
        if assumes:
            assert job["permissions"] == {"id-token": "write", "contents": "read"}, name
