"""Debian's Chromium driven by Playwright for Python: never a downloaded browser.

`Browser.open` loads a page and records what went wrong on it: console errors, script
errors, failed requests, HTTP errors, dialogs (an `alert` a hostile value got to run), and
any request that would leave 127.0.0.1 (refused: the dashboard fetches nothing from
elsewhere). Screenshots go to `SHOTS`, which CI keeps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RELCTL_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("RELCTL_SCREENSHOTS", REPO / "artifacts" / "screenshots"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Watched:
    page: Page
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def why(self) -> str:
        return self.page.locator("#why").inner_text().strip()

    def visible_events(self) -> int:
        return int(self.page.locator(".event:visible").count())

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class Browser:
    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        self.context = context

    def open(self, url: str) -> Watched:
        page = self.context.new_page()
        watched = Watched(page)

        def local_only(route) -> None:  # type: ignore[no-untyped-def]
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                watched.problems.append(f"request outside 127.0.0.1: {route.request.url}")
                route.abort()

        def dialog(d) -> None:  # type: ignore[no-untyped-def]
            watched.dialogs.append(d.message)
            d.dismiss()

        page.route("**/*", local_only)
        page.on("dialog", dialog)
        page.on("pageerror", lambda e: watched.problems.append(f"script error: {e}"))
        page.on(
            "console",
            lambda m: (
                watched.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("requestfailed", lambda r: watched.problems.append(f"failed: {r.url}"))
        page.on(
            "response",
            lambda r: (
                watched.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        page.goto(url, wait_until="load")
        return watched


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium, headless, in a fresh profile."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            yield Browser(context)
        finally:
            context.close()
            browser.close()
