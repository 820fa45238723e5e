"""The console (`slipway ui`) driven in Debian's Chromium against the embedded cloud: pages a
person reads, a promotion followed to live, the lineage graph's way to a dataset, and a
rejection through the form, recorded with its reason and the person's identity; then the
guard's refusals, asked over plain HTTP.

Every navigation is checked: an answer of 400 or more, an error page or a traceback fails
the test, and so does any error the page's console reports (a blocked script or style).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from examples.iris.train import EVALUATION_CSV, TRAIN_CSV, train_and_package
from slipway.console.server import RunningConsole, start_console
from slipway.invoke import call_registry
from slipway.target import Target, resolve_target
from tests.workflow.conftest import DeployedLocal, point_cli_at

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 120_000  # a whole promotion on the embedded cloud, with room for a slow machine
# what a page that failed says instead of its content
ERROR_TEXTS = ("Traceback", "Internal Server Error", "The console failed")


@dataclass
class Console:
    running: RunningConsole
    target: Target
    browser: Browser
    deployed: DeployedLocal

    def url(self, path: str) -> str:
        return f"{self.running.base_url}{path}"


@dataclass
class Watched:
    """A page whose every document answer and console error is recorded."""

    page: Page
    failures: list[str] = field(default_factory=list)

    def goto(self, url: str) -> None:
        answer = self.page.goto(url)
        assert answer is not None, url
        self.check(answer.status, url)

    def check(self, status: int, url: str) -> None:
        assert status < 400, f"{url} answered {status}: {self.page.content()[:2000]}"
        text = self.page.locator("body").inner_text()
        for error in ERROR_TEXTS:
            assert error not in text, f"{url} shows {error!r}: {text[:2000]}"
        assert self.page.locator("h1").count() == 1, f"{url} has no single <h1>"

    def assert_clean(self) -> None:
        assert not self.failures, self.failures


@pytest.fixture(scope="module")
def console(deployed: DeployedLocal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console and one Chromium for the module, the console signing its registry calls
    with the embedded cloud's key, as `slipway ui` does with the user's credentials."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt")
    with pytest.MonkeyPatch.context() as patch:
        point_cli_at(deployed, tmp_path_factory.mktemp("console-cli"), patch)
        target = resolve_target("local")
        running = start_console(target, port=0)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
                )
                try:
                    yield Console(running, target, browser, deployed)
                finally:
                    browser.close()
        finally:
            running.stop()


@pytest.fixture
def watched(console: Console) -> Iterator[Watched]:
    """A fresh browser context that has opened the token link (so it holds the cookie), on
    the models page."""
    context = console.browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = Watched(page)

    def on_response(response: Any) -> None:
        # every document and what it loads (a stylesheet, the script); Chromium's own ask for
        # a favicon is not the page's
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            seen.failures.append(f"{response.url} answered {response.status}")

    def on_console(message: Any) -> None:
        # a blocked inline style or script says so here; failed loads are counted above
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            seen.failures.append(f"console: {message.text} at {message.location}")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.failures.append(f"script error: {error}"))
    seen.goto(console.running.url)
    assert "token=" not in page.url  # the token became a cookie, out of the address bar
    try:
        yield seen
        seen.assert_clean()
    finally:
        context.close()


def own_training_data(directory: Path) -> dict[str, Path]:
    """The iris CSVs with their rows in another order: a dataset (a digest) of this module's
    own, so its page lists this module's versions on its first page whatever else the
    package's modules trained on the shipped files."""
    paths = {}
    for argument, source in (("train_csv", TRAIN_CSV), ("evaluation_csv", EVALUATION_CSV)):
        header, *rows = source.read_text().splitlines()
        paths[argument] = directory / source.name
        paths[argument].write_text("\n".join([header, *reversed(rows)]) + "\n")
    return paths


@dataclass(frozen=True)
class Pushed:
    name: str
    version: str
    train_sha256: str


@pytest.fixture(scope="module")
def promoted(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """A model pushed once for the module (auto approval: it goes live on its own)."""
    directory = tmp_path_factory.mktemp("console-model")
    bundle = directory / "bundle.tar.gz"
    manifest = train_and_package(
        bundle, name="console-iris", version="1", **own_training_data(directory)
    )
    console.deployed.push(bundle, "console-iris", "1")
    (train,) = [d for d in manifest.lineage.datasets if d.role == "train"]
    return Pushed("console-iris", "1", train.sha256)


def wait_until_live(console: Console, pushed: Pushed) -> None:
    console.deployed.wait_for_status(pushed.name, pushed.version, "live", timeout=WAIT_MS / 1000)


def test_following_a_promotion_to_live_on_the_version_page(console, watched, promoted):
    # GIVEN a version the registry knows (its page exists once Register has run)
    console.deployed.wait_for_audit(promoted.name, promoted.version, "register")
    # WHEN a person opens its page while the gate runs
    watched.goto(console.url(f"/models/{promoted.name}/versions/{promoted.version}"))
    page = watched.page
    for section in ("gate", "lineage", "audit", "monitoring", "attestations", "actions"):
        expect(page.locator(f"section#{section} h2")).to_have_count(1)
    # THEN the page refreshes itself until Promote has passed, and the audit says live
    promote = page.locator('#gate li.step[data-step="Promote"]')
    expect(promote).to_have_attribute("data-state", "passed", timeout=WAIT_MS)
    watched.check(200, page.url)  # the page it reloaded into is a page, not an error
    states = page.locator("#gate li.step").evaluate_all(
        "steps => steps.map(s => [s.dataset.step, s.dataset.state])"
    )
    assert dict(states)["Validate"] == "passed" and dict(states)["Register"] == "passed", states
    assert not [step for step, state in states if state in ("failed", "running", "waiting")]
    expect(page.locator('#audit-timeline li[data-step="promote"]')).to_have_attribute(
        "data-outcome", "live"
    )
    expect(page.locator("#auto-refresh")).to_have_count(0)  # it ran: nothing to refresh for


def test_the_models_page_lists_the_live_model(console, watched, promoted):
    wait_until_live(console, promoted)
    watched.goto(console.url("/"))
    page = watched.page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator('nav[aria-label="Breadcrumb"]')).to_have_count(1)
    expect(page.locator("table#models caption")).to_have_count(1)
    row = page.locator(f'table#models tr[data-model="{promoted.name}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("live")
    # the model's name leads to its versions, and the version to its page
    row.get_by_role("link", name=promoted.name, exact=True).click()
    watched.check(200, page.url)
    assert page.url.endswith(f"/models/{promoted.name}"), page.url
    version = page.locator(f'table#versions tr[data-version="{promoted.version}"]')
    expect(version).to_contain_text("live")


def test_the_lineage_graph_leads_to_the_dataset_page_that_lists_the_version_live(
    console, watched, promoted
):
    wait_until_live(console, promoted)
    watched.goto(console.url(f"/models/{promoted.name}/versions/{promoted.version}"))
    page = watched.page
    link = page.locator(f'#lineage svg a[data-dataset="{promoted.train_sha256}"]').first
    link.click()
    page.wait_for_url(re.compile(f"/datasets/{promoted.train_sha256}$"))
    watched.check(200, page.url)
    version_page = f"/models/{promoted.name}/versions/{promoted.version}"
    row = page.locator(
        f'table#dataset-versions tr[data-model="{promoted.name}"]'
        f'[data-version="{promoted.version}"]'
    )
    expect(row).to_have_count(1)
    expect(row.locator(f'a[href="{version_page}"]')).to_have_count(1)
    expect(row).to_have_attribute("data-live", "true")


def test_rejecting_a_waiting_version_through_the_form(console, watched, tmp_path):
    name, version = "console-waiting", "1"
    identity = call_registry(console.target, "GET", "/v1/identity")
    page = watched.page
    with console.deployed.gate_policy(approval="manual"):
        # GIVEN a version waiting for a person
        bundle = tmp_path / "bundle.tar.gz"
        train_and_package(bundle, name=name, version=version, **own_training_data(tmp_path))
        execution = console.deployed.push(bundle, name, version)
        console.deployed.wait_for_status(name, version, "awaiting-approval", timeout=90)
        watched.goto(console.url(f"/models/{name}/versions/{version}"))
        expect(page.locator('#gate li.step[data-step="WaitForApproval"]')).to_have_attribute(
            "data-state", "waiting"
        )
        # WHEN the person opens the reject form from the actions and gives a reason
        page.locator(f'#actions a[href="/models/{name}/versions/{version}/reject"]').click()
        watched.check(200, page.url)
        expect(page.locator("#identity")).to_contain_text(identity["actor"])
        reason = page.get_by_label(re.compile("reason", re.IGNORECASE))
        expect(reason).to_have_attribute("required", "")
        reason.fill("the training window holds a holiday: drift expected")
        with page.expect_navigation():
            page.locator("form#decision button[type=submit]").click()
        # THEN the version page says so, and the audit trail records the reason and who
        watched.check(200, page.url)
        assert page.url.endswith(f"/models/{name}/versions/{version}?notice=rejected"), page.url
        expect(page.get_by_role("status")).to_contain_text("rejected")
        assert console.deployed.wait_for_execution(execution, timeout=60)["status"] == "FAILED"
    watched.goto(console.url(f"/models/{name}/versions/{version}"))
    rejected = page.locator('#audit-timeline li[data-outcome="rejected"]')
    expect(rejected).to_contain_text("the training window holds a holiday: drift expected")
    expect(rejected).to_contain_text(f"rejected by {identity['actor']}")
    expect(page.locator('#gate li.step[data-step="WaitForApproval"]')).to_have_attribute(
        "data-state", "failed"
    )


def test_an_unknown_version_is_a_404_page_not_a_traceback(console, watched):
    answer = watched.page.goto(console.url("/models/console-iris/versions/999"))
    assert answer is not None and answer.status == 404
    expect(watched.page.get_by_role("alert")).to_contain_text("404")
    assert "Traceback" not in watched.page.content()
    watched.failures.clear()  # this 404 is the one asked for


# -- the guard, asked over plain HTTP ------------------------------------------------------


@pytest.fixture
def signed_in(console: Console) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.running.base_url, timeout=15) as client:
        opened = client.get(console.running.url)
        assert opened.status_code == 303, opened.text
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie.replace("strict", "Strict")
        yield client


def test_a_foreign_host_is_refused(console, signed_in):
    # a DNS-rebinding page reaches 127.0.0.1 under its own name
    answer = signed_in.get("/", headers={"Host": f"attacker.example:{console.running.port}"})
    assert answer.status_code == 403
    assert signed_in.get("/").status_code == 200  # the same client, at its own address


def test_a_post_from_a_foreign_origin_is_refused(console, signed_in):
    path = "/models/console-iris/versions/1/reject"
    for origin in ("http://attacker.example", f"http://127.0.0.1:{console.running.port + 1}"):
        answer = signed_in.post(
            path,
            content=b"reason=not+mine",
            headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 403, (origin, answer.status_code)


def test_a_request_without_the_secret_is_refused(console):
    base = console.running.base_url
    without = httpx.get(f"{base}/", timeout=15)
    assert without.status_code == 403
    assert "slipway ui" in without.text
    wrong = httpx.get(f"{base}/", cookies={f"slipway-console-{console.running.port}": "x"})
    assert wrong.status_code == 403
    assert httpx.get(f"{base}/?token=wrong", timeout=15).status_code == 403
