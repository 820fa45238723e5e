"""The pictures in docs/console.md, taken from a real run: the embedded cloud up, the demo's
iris model trained, pushed twice and promoted by the gate, the console started, and its pages
photographed in Debian's Chromium.

    .venv/bin/python bench/console_screenshots.py [--out docs/console]

(`make console-screenshots`.) Not a benchmark: it lives here beside bench/console.py, whose
embedded cloud it shares.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console import embedded_local  # noqa: E402
from examples.iris.train import train_and_package  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
MODEL = "iris"
VERSIONS = ("1", "2")
PUSH_TIMEOUT_SECONDS = "180"
VIEWPORT = {"width": 1280, "height": 640}  # pages grow past it: full-page shots


def slipway(*args: str) -> None:
    """The CLI, as a person runs it (it finds the embedded cloud through SLIPWAY_LOCAL_DIR)."""
    subprocess.run([str(ROOT / ".venv" / "bin" / "slipway"), *args], check=True, env=os.environ)


def push_and_promote(work: Path) -> str:
    """Push the demo model's versions, each after the one before went live; return the
    sha256 of the training data they share."""
    train = ""
    for version in VERSIONS:
        bundle = work / f"{MODEL}-{version}.tar.gz"
        manifest = train_and_package(bundle, name=MODEL, version=version)
        train = next(d.sha256 for d in manifest.lineage.datasets if d.role == "train")
        slipway("push", str(bundle), "--env", "local")
        slipway(
            "status", MODEL, version, "--env", "local", "--watch", "--timeout", PUSH_TIMEOUT_SECONDS
        )
    return train


def photograph(console_url: str, base: str, train_sha256: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    live = VERSIONS[-1]
    version_page = f"{base}/models/{MODEL}/versions/{live}"
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(console_url)  # the token becomes the cookie

        def shot(url: str, name: str, section: str | None = None) -> None:
            answer = page.goto(url)
            if answer is None or answer.status >= 400:
                raise RuntimeError(f"{url} answered {answer and answer.status}")
            path = out / f"{name}.png"
            if section:
                page.locator(f"section#{section}").screenshot(path=str(path))
            else:
                page.screenshot(path=str(path), full_page=True)
            saved.append(path)

        shot(f"{base}/", "models")
        shot(f"{base}/models/{MODEL}", "versions")
        shot(version_page, "version")
        for section in ("gate", "lineage", "audit"):
            shot(version_page, f"version-{section}", section)
        shot(f"{base}/datasets/{train_sha256}", "dataset")
        shot(f"{base}/models/{MODEL}/rollback", "rollback-form")
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from slipway.console.server import start_console

    with embedded_local() as target, tempfile.TemporaryDirectory() as work:
        train = push_and_promote(Path(work))
        console = start_console(target, port=0)
        try:
            for path in photograph(console.url, console.base_url, train, args.out):
                print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        finally:
            console.stop()


if __name__ == "__main__":
    main()
