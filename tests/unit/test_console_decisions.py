"""The decision forms: the identity the registry will record, a required reason, and the
decision made by the real registry path (a real execution waiting on its task token is
rejected; a live model is rolled back); refusals shown on the form, the reason kept."""

from __future__ import annotations

import json
import re

import pytest

from registry import workflow as steps
from registry.environment import APPROVERS
from tests.unit.console_support import CALLER, InProcessRegistry, Page, running_console
from tests.unit.gate import failed, live, run
from tests.unit.test_registry_decisions import ended, wait_for_approval


@pytest.fixture
def waiting(gate, bundles):
    """iris 'good' awaiting approval, a real execution waiting on its token."""
    return wait_for_approval(gate, bundles)


def alert_text(html: str) -> str:
    found = re.search(r'<div role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert found, html
    return Page(found[1]).text


def test_the_form_asks_for_a_reason_and_shows_who_will_be_recorded(gate, waiting):
    with running_console(InProcessRegistry()) as browser:
        answer = browser.get("/models/iris/versions/good/reject")
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    form = page.one("form", id="decision")
    assert form["method"] == "post" and "action" not in form  # posts to its own URL
    textarea = page.one("textarea", name="reason")
    assert "required" in textarea and page.one("label", **{"for": textarea["id"]})
    page.one("button", type="submit")
    identity = re.search(r'id="identity">(.*?)</strong>', answer.text, re.S)[1]
    # the registry's /v1/identity names the caller; an older registry is said to be one
    assert CALLER in identity or "does not say" in identity
    assert "awaiting-approval" in page.text


def test_rejecting_through_the_form_ends_the_real_promotion_with_the_reason(gate, waiting):
    with running_console(InProcessRegistry()) as browser:
        # WHEN a person rejects the waiting version with a reason
        answer = browser.post_form(
            "/models/iris/versions/good/reject", {"reason": "drifts on new data"}
        )
        # THEN the console goes back to the version page with a fixed notice
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/models/iris/versions/good?notice=rejected"
        shown = browser.get(answer.headers["location"])
    # AND the execution waiting on its token failed with who and why
    described = ended(waiting.execution)
    assert described["status"] == "FAILED"
    assert described["cause"] == f"rejected by {CALLER}: drifts on new data"
    assert re.search(r'role="status"[^>]*>The version was rejected', shown.text)
    # AND once the workflow has recorded the failed task (its Catch runs RecordFailure,
    # here by hand: the waiting machine of the unit tests has no Catch), the audit
    # timeline shows the rejection with its reason and who decided
    run(steps.RECORD_FAILURE, failed(waiting.state, described["error"], described["cause"]))
    with running_console(InProcessRegistry()) as browser:
        page = Page(browser.get("/models/iris/versions/good").text)
    rejections = [a for t, a in page.elements if t == "li" and a.get("data-outcome") == "rejected"]
    assert rejections, page.text
    assert "drifts on new data" in page.text and CALLER in page.text


def test_a_form_without_a_reason_decides_nothing(gate, waiting):
    with running_console(InProcessRegistry()) as browser:
        empty = browser.post_form("/models/iris/versions/good/reject", {"reason": "  "})
        too_long = browser.post_form("/models/iris/versions/good/reject", {"reason": "x" * 1001})
        unknown = browser.post_form(
            "/models/iris/versions/good/approve", {"reason": "ok", "to": "1"}
        )
        page = browser.get("/models/iris/versions/good")
    assert empty.status_code == 400 and "A reason is required" in alert_text(empty.text)
    assert too_long.status_code == 400 and "at most 1000 characters" in alert_text(too_long.text)
    assert unknown.status_code == 400 and "no field 'to'" in alert_text(unknown.text)
    # the long reason is given back to be shortened, not lost
    assert "x" * 1001 in too_long.text
    assert "awaiting-approval" in Page(page.text).text


def test_a_refusal_comes_back_on_the_form_with_the_reason_kept(gate, waiting):
    registry = InProcessRegistry()
    with running_console(registry) as browser:
        assert (
            browser.post_form("/models/iris/versions/good/approve", {"reason": "looks right"})
            .headers["location"]
            .endswith("?notice=approved")
        )
        # WHEN the same version is approved again (it no longer waits)
        again = browser.post_form("/models/iris/versions/good/approve", {"reason": "once more"})
    # THEN the registry's conflict is on the form, in its words, and the reason is kept
    assert again.status_code == 409
    assert "not waiting for approval" in alert_text(again.text)
    assert "once more" in Page(again.text).text
    assert ("POST", "/v1/models/iris/versions/good/approve") in registry.calls


def test_someone_not_an_approver_is_told_so_on_the_form(gate, waiting, monkeypatch):
    monkeypatch.setenv(APPROVERS, json.dumps(["arn:aws:sts::123456789012:assumed-role/lead/*"]))
    with running_console(InProcessRegistry()) as browser:
        answer = browser.post_form("/models/iris/versions/good/reject", {"reason": "no"})
    assert answer.status_code == 403
    assert "not among this environment's approvers" in alert_text(answer.text)


def test_rolling_back_through_the_form_points_live_back(gate, bundles):
    live(gate, bundles["good"], "good")
    live(gate, bundles["better"], "better")
    with running_console(InProcessRegistry()) as browser:
        form = browser.get("/models/iris/rollback")
        assert form.status_code == 200
        Page(form.text).one("input", name="to")
        answer = browser.post_form("/models/iris/rollback", {"reason": "complaints", "to": ""})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/models/iris?notice=rolled-back"
        versions = browser.get(answer.headers["location"])
    assert gate.repository.get_pointer("iris")["version"] == "good"
    assert re.search(r'role="status"[^>]*>The model was rolled back', versions.text)
    row = re.search(r'<tr data-version="better">(.*?)</tr>', versions.text, re.S)[1]
    assert "rolled-back" in row
