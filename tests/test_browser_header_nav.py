"""The header's menu in a real browser (Playwright driving Debian's Chromium against the real app
on uvicorn): at a phone's 390 px, a tablet's 820 and on a desktop, signed out and signed in, light
and dark, every menu item is on the screen, whole and clickable where it stands (not clipped by
the viewport, nor hidden in a sideways-scrolling strip without a scroll bar). Screenshots of the
header go to `test-artifacts/screenshots/header/`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import webdata
from playwright.sync_api import Browser, Page, expect
from test_browser import SHOTS, answer_thumbnails

import paperfeed

HEADER_SHOTS = SHOTS / "header"
PASSWORD = "correct horse battery"
EMAIL = "a.rather.long.address@example.org"  # long, as the header's account part can be
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "tablet": {"width": 820, "height": 1180},
             "phone": {"width": 390, "height": 844}}
WAIT_MS = 180_000  # a loaded machine can be slow to serve a page; nothing here measures time
expect.set_options(timeout=WAIT_MS)

# Each shown menu item: its box, the viewport's width, the menu's box and whether the element
# at the item's centre is the item (false when something covers it or it is clipped away).
ITEMS = """() => Array.from(document.querySelectorAll('header.site nav a'))
  .filter(a => getComputedStyle(a).display !== 'none')
  .map(a => {
    const r = a.getBoundingClientRect(), nav = a.closest('nav').getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {text: a.textContent.trim(), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            nav: {left: nav.left, right: nav.right, top: nav.top, bottom: nav.bottom},
            width: window.innerWidth, hit: hit !== null && (hit === a || a.contains(hit))};
  })"""

NAV_FITS = """() => { const n = document.querySelector('header.site nav');
                      return n.scrollWidth <= n.clientWidth; }"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("header")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        lib.accounts.signup(EMAIL, PASSWORD)  # as `paperfeed users add` does
        with webdata.serving(lib) as url:
            yield url


def log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("header .account")).to_contain_text(EMAIL)


def shown_items(page: Page) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = page.evaluate(ITEMS)
    return items


def shoot(page: Page, signed_in: bool, width: str, scheme: str) -> None:
    """The home page's header and a little below it."""
    page.goto("/")
    expect(page.locator("header.site nav")).to_be_visible()
    page.evaluate("document.fonts.ready")
    HEADER_SHOTS.mkdir(parents=True, exist_ok=True)
    who = "signed-in" if signed_in else "signed-out"
    box = page.locator("header.site").bounding_box()
    assert box is not None
    page.screenshot(
        path=str(HEADER_SHOTS / f"header-{who}-{width}-{scheme}.png"),
        clip={"x": 0, "y": 0, "width": VIEWPORTS[width]["width"], "height": box["y"] + box["height"] + 80},
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", ["phone", "tablet", "desktop"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_every_menu_item_is_on_the_screen(
    browser: Browser, base_url: str, signed_in: bool, width: str, scheme: str
) -> None:
    phone = width == "phone"
    context = browser.new_context(
        base_url=base_url, viewport=VIEWPORTS[width], color_scheme=scheme, is_mobile=phone, has_touch=phone
    )
    context.set_default_timeout(WAIT_MS)
    answer_thumbnails(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    if signed_in:
        log_in(page)
    shoot(page, signed_in, width, scheme)  # first, so that a failing run leaves the picture too
    for path in ("/", "/papers/2502.00004"):
        page.goto(path)
        expect(page.locator("header.site nav")).to_be_visible()
        page.evaluate("document.fonts.ready")
        items = shown_items(page)
        expected = {"Daily", "Trending", "For you", "Submit", "About", "Email digest"}
        expected |= {"Library"} if signed_in else set()
        expected |= {"Search"} if phone else set()  # wider screens have the search box instead
        assert {i["text"] for i in items} == expected, items
        for item in items:
            on_screen = item["left"] >= 0 and item["right"] <= item["width"]
            assert on_screen, f"{path}: {item['text']} leaves the screen: {item}"
            nav = item["nav"]
            assert nav["left"] - 0.5 <= item["left"] and item["right"] <= nav["right"] + 0.5, (
                f"{path}: {item['text']} is clipped by the menu: {item}"
            )
            assert item["hit"], f"{path}: {item['text']} cannot be clicked where it stands: {item}"
        # Nothing scrolls sideways: not the page, not the menu.
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]
        assert page.evaluate(NAV_FITS), f"{path}: the menu scrolls sideways"
    # The last item (where a cut-off menu loses things) takes the reader to its page.
    page.goto("/")
    page.locator("header.site nav a", has_text="Email digest").click()
    expect(page).to_have_url(f"{base_url}/subscribe")
    context.close()
    assert not errors, f"browser console errors: {errors}"
