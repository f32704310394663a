"""The personal library in a real browser (Playwright driving Debian's Chromium, launched as in
test_browser_room.py) against the real app on a real uvicorn server, on the bundled sample: Save
in place (no page load) and the paper on the Library page, "Not interested" hides the card in
place with an Undo, For you shows each card's reasons. Screenshots of For you, Library and What
it learned at desktop and phone widths, light and dark, go to
`test-artifacts/screenshots/library/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import webdata
from librarydata import only_on, page_ids
from playwright.sync_api import Browser, expect
from test_browser import SHOTS
from test_browser_room import DESKTOP, PHONE, SAMPLE_DIR, STATE, Tab

import paperfeed

LIBRARY_SHOTS = SHOTS / "library"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("library-browser")
    with paperfeed.open(root / "home") as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        for email in ("saver@example.org", "shots@example.org"):
            lib.accounts.signup(email, PASSWORD)
        a, b = page_ids()
        for pid in only_on(a, b)[:5]:
            lib.library_add(pid, "Optimisers", "shots@example.org")
        for pid in only_on(b, a)[:2]:
            lib.dismiss(pid, "shots@example.org")
        with webdata.serving(lib) as url:
            yield url


def log_in(tab: Tab, email: str) -> None:
    page = tab.page
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("header .account")).to_contain_text(email)


def test_save_in_place_then_on_the_library_page(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url)
    log_in(tab, "saver@example.org")
    page = tab.page
    page.goto("/undated")
    page.evaluate("window.__samePage = true")
    card = page.locator("article[data-card]").nth(3)
    title = card.locator("h3 a").inner_text()
    save = card.get_by_role("button", name="Save")
    expect(save).to_have_attribute("aria-pressed", "false")
    save.click()
    expect(save).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(STATE)["same"] is True, "no page load"
    # the s key saves the current card (j selects the first)
    page.keyboard.press("j")
    page.keyboard.press("s")
    first = page.locator("article[data-card]").first.get_by_role("button", name="Save")
    expect(first).to_have_attribute("aria-pressed", "true")
    page.goto("/library")
    expect(page.locator("#saved")).to_contain_text(title)
    expect(page.locator(".tabs")).to_contain_text("Saved (2)")
    tab.close()


def test_not_interested_makes_the_card_go_away_with_an_undo(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url)
    log_in(tab, "saver@example.org")
    page = tab.page
    page.goto("/undated")
    page.evaluate("window.__samePage = true")
    card = page.locator("article[data-card]").nth(5)
    title = card.locator("h3 a").inner_text()
    card.get_by_role("button", name="Not interested").click()
    expect(card.locator("h3")).to_be_hidden()
    undo = card.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    assert page.evaluate(STATE)["same"] is True
    undo.click()
    expect(card.locator("h3")).to_be_visible()
    card.get_by_role("button", name="Not interested").click()
    expect(card.locator("h3")).to_be_hidden()
    page.reload()
    expect(page.locator("main")).not_to_contain_text(title)
    tab.close()


def test_for_you_shows_reasons(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url)
    log_in(tab, "shots@example.org")
    page = tab.page
    page.goto("/for-you")
    first = page.locator("article[data-card]").first
    expect(first.locator(".reasons")).to_contain_text("close to your saved")
    expect(page.locator("header nav")).to_contain_text("For you")
    tab.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_the_library_pages(
    browser: Browser, base_url: str, scheme: str, width: str, viewport: dict[str, int]
) -> None:
    tab = Tab(browser, base_url, viewport=viewport, color_scheme=scheme)
    log_in(tab, "shots@example.org")
    page = tab.page
    LIBRARY_SHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in [("for-you", "/for-you"), ("library", "/library"), ("learned", "/library/learned")]:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        page.evaluate("document.fonts.ready")
        page.screenshot(path=str(LIBRARY_SHOTS / f"{name}-{width}-{scheme}.png"), full_page=name != "for-you")
        if name == "for-you":
            page.screenshot(path=str(LIBRARY_SHOTS / f"{name}-{width}-{scheme}.png"))
    tab.close()
