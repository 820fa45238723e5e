"""Every cdk-nag suppression accepts a finding that exists, on the resource that has it.

cdk-nag's reports (one CSV per pack and stack) list each suppressed finding with its resource
and, for granular rules, the finding id in brackets; the templates carry each resource's
suppressions in its metadata. A suppression that no finding uses is stale: a grant went
away, or the suppression is broader than the grants.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

ENVIRONMENTS = ["local", "dev", "staging", "prod"]

Suppressed = set[tuple[str, str, str]]  # (rule, resource path, finding id or "")


def suppressed_findings(outdir: Path) -> Suppressed:
    found: Suppressed = set()
    for report in outdir.glob("*-NagReport.csv"):
        with report.open(newline="") as rows:
            for row in csv.DictReader(rows):
                if row["Compliance"] != "Suppressed":
                    continue
                reason = row["Exception Reason"]
                finding = reason[1 : reason.index("] ")] if reason.startswith("[") else ""
                found.add((row["Rule ID"], "/" + row["Resource ID"], finding))
    return found


def resource_suppressions(outdir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(construct path, suppression) for every suppression in the templates' metadata."""
    found = []
    for template_file in outdir.glob("*.template.json"):
        template = json.loads(template_file.read_text())
        stack = template_file.name.removesuffix(".template.json")
        assert "cdk_nag" not in template.get("Metadata", {}), f"{stack}: stack-wide suppression"
        for resource in template["Resources"].values():
            metadata = resource.get("Metadata", {})
            for rule in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
                # the construct path, which cdk-nag's reports name (cdk.json turns it on)
                found.append(("/" + metadata["aws:cdk:path"], rule))
    return found


def matches(applies_to: str | dict[str, str], finding: str) -> bool:
    if isinstance(applies_to, str):
        return applies_to == finding
    pattern = re.fullmatch(r"/(.*)/([a-z]*)", applies_to["regex"], re.DOTALL)
    assert pattern is not None, applies_to
    return re.search(pattern.group(1), finding) is not None


def stale(suppressions: list[tuple[str, dict[str, Any]]], findings: Suppressed) -> list[str]:
    """Each applies_to entry (or rule, where it has none) that no finding on its resource
    used."""
    problems = []
    for path, rule in suppressions:
        here = [f for r, p, f in findings if r == rule["id"] and p == path]
        for applies_to in rule.get("applies_to") or [None]:
            if applies_to is None:
                used = bool(here)
            else:
                used = any(matches(applies_to, finding) for finding in here)
            if not used:
                problems.append(f"{path}: {rule['id']} {applies_to or '(whole rule)'}")
    return problems


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_suppression_accepts_a_finding_its_resource_has(synthesized, env):
    outdir = synthesized(env).outdir
    suppressions = resource_suppressions(outdir)
    assert suppressions
    assert stale(suppressions, suppressed_findings(outdir)) == []


def test_every_accepted_finding_is_put_on_some_resource(synthesized):
    from infra.nag_suppressions import ACCEPTED

    reasons = [
        rule["reason"]
        for env in ENVIRONMENTS
        for _, rule in resource_suppressions(synthesized(env).outdir)
    ]
    unused = [entry for entry in ACCEPTED if not any(entry.reason in r for r in reasons)]
    assert unused == []


def test_a_suppression_nothing_needs_is_reported_stale():
    # GIVEN a policy whose only finding is Resource::*, suppressed with a second, unused entry
    path = "/s/Function/ServiceRole/DefaultPolicy/Resource"
    findings = {("AwsSolutions-IAM5", path, "Resource::*")}
    rule = {
        "id": "AwsSolutions-IAM5",
        "reason": "x-ray and more",
        "applies_to": [{"regex": "/^Resource::\\*$/"}, "Action::s3:GetObject*"],
    }
    # THEN only the unused entry is stale; a rule with no finding at all is stale as a whole
    assert stale([(path, rule)], findings) == [f"{path}: AwsSolutions-IAM5 Action::s3:GetObject*"]
    whole = {"id": "Serverless-LambdaDLQ", "reason": "synchronous only"}
    assert stale([(path, whole)], findings) == [f"{path}: Serverless-LambdaDLQ (whole rule)"]
