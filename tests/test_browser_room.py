"""The reading room in a real browser (Playwright driving Debian's Chromium, launched as in
test_browser.py) against the real app on a real uvicorn server: upvotes in place (no page load,
scroll kept), a signed-out vote carried through log-in, the plain forms without JavaScript,
dark mode (the system setting and the toggle, with no flash), the phone layout and keyboard
shortcuts. Screenshots of the main pages at desktop and phone widths, light and dark, go to
`test-artifacts/screenshots/room/`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webdata
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_browser import SHOTS, answer_thumbnails

import paperfeed

SAMPLE_DIR = Path(paperfeed.__file__).parent / "sample"
ROOM_SHOTS = SHOTS / "room"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DARK_BG = "rgb(15, 18, 21)"
LIGHT_BG = "rgb(255, 255, 255)"
# Where the page is: scroll position, URL, documents loaded in this tab, and a marker a reload
# would wipe out.
STATE = """({y: window.scrollY, url: location.href, same: window.__samePage === true,
             n: performance.getEntriesByType('navigation').length})"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("room")
    with paperfeed.open(root / "home") as lib:
        webdata.build(lib, root / "data")
        lib.accounts.signup("reader@example.org", PASSWORD)
        with webdata.serving(lib) as url:
            yield url


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What `make demo` serves: the bundled sample."""
    root = tmp_path_factory.mktemp("demo")
    with paperfeed.open(root / "home") as lib:
        lib.import_files(sorted(SAMPLE_DIR.glob("*.txt")))
        lib.accounts.signup("a.rather.long.address@example.org", PASSWORD)  # `paperfeed users add`
        with webdata.serving(lib) as url:
            yield url


class Tab:
    """A browser context and page that collects console errors (CSP violations show there)."""

    def __init__(self, browser: Browser, base_url: str, **options: Any) -> None:
        options.setdefault("viewport", DESKTOP)
        self.context: BrowserContext = browser.new_context(base_url=base_url, **options)
        answer_thumbnails(self.context)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.navigations: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on(
            "framenavigated", lambda f: self.navigations.append(f.url) if f.parent_frame is None else None
        )

    def close(self, allowed: str | None = None) -> None:
        """Close; fail on console errors (except ones containing `allowed`)."""
        self.context.close()
        errors = [e for e in self.errors if not (allowed and allowed in e)]
        assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def tab(browser: Browser, base_url: str) -> Iterator[Tab]:
    t = Tab(browser, base_url)
    yield t
    t.close()


def log_in(page: Page, email: str = "reader@example.org") -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("header .account")).to_contain_text(email)


def vote_of(page: Page, paper_id: str) -> Any:
    return page.locator(f"form[action='/papers/{paper_id}/upvote'] button")


def shot(page: Page, name: str, *, first_screen: bool = False) -> None:
    """The whole page; with `first_screen`, also what the first screen shows (`NAME-top`)."""
    ROOM_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ROOM_SHOTS / f"{name}.png"), full_page=True)
    if first_screen:
        page.screenshot(path=str(ROOM_SHOTS / f"{name}-top.png"))


# -- upvotes -----------------------------------------------------------------------------------


def test_an_upvote_happens_in_place_keeping_the_scroll_position(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url, viewport={"width": 1280, "height": 500})
    page = tab.page
    log_in(page)
    page.goto("/daily?week=2025-W06")
    button = vote_of(page, "2502.00007")  # the last card: the page must scroll to reach it
    button.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 40)")
    before = page.evaluate(STATE)
    assert before["y"] > 100
    assert before["same"] is False
    page.evaluate("window.__samePage = true")  # gone if the page were loaded again
    navigations = len(tab.navigations)
    expect(button.locator("[data-count]")).to_have_text("3")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    expect(button.locator("[data-count]")).to_have_text("4")
    expect(button).to_have_attribute("aria-pressed", "true")
    after = page.evaluate(STATE)
    assert after == {**before, "same": True}
    assert len(tab.navigations) == navigations
    button.click()  # and back
    expect(button.locator("[data-count]")).to_have_text("3")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    page.reload()  # the server kept it
    expect(vote_of(page, "2502.00007").locator("[data-count]")).to_have_text("4")
    expect(page.get_by_role("button", name="Upvote").first).to_be_visible()  # its accessible name
    tab.close()


def test_a_signed_out_click_goes_to_log_in_and_back_with_the_vote_cast(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url)
    page = tab.page
    page.goto("/daily?date=2025-02-06")
    expect(vote_of(page, "2502.00006").locator("[data-count]")).to_have_text("8")
    vote_of(page, "2502.00006").click()
    expect(page).to_have_url(
        f"{page.url.split('/daily')[0]}/login?next=%2Fdaily%3Fdate%3D2025-02-06%23paper-2502.00006"
    )
    expect(page.locator("#pending")).to_contain_text("your upvote of “Retrieval Augmented Generation at Scale”")
    page.fill("input[name=email]", "reader@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r".*/daily\?date=2025-02-06#paper-2502\.00006$"))
    button = vote_of(page, "2502.00006")
    expect(button.locator("[data-count]")).to_have_text("9")
    expect(button).to_have_attribute("aria-pressed", "true")
    shot(page, "vote-after-login")
    # Chromium logs the signed-out JSON answer (401, by design) as a failed resource.
    tab.close(allowed="status of 401 (Unauthorized)")


def test_without_javascript_the_plain_form_comes_back_to_the_card(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url, java_script_enabled=False, viewport={"width": 1280, "height": 500})
    page = tab.page
    log_in(page)
    page.goto("/daily?week=2025-W06")
    button = vote_of(page, "2502.00001")
    before = int(button.locator("[data-count]").inner_text())
    button.click()
    expect(page).to_have_url(re.compile(r".*/daily\?week=2025-W06#paper-2502\.00001$"))
    expect(vote_of(page, "2502.00001").locator("[data-count]")).to_have_text(str(before + 1))
    assert page.evaluate("window.scrollY") > 0  # the browser scrolled to the card
    expect(page.locator("#theme-toggle")).to_be_hidden()  # no toggle that could not work
    tab.close()


# -- dark mode --------------------------------------------------------------------------------


def background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_dark_mode_follows_the_system_setting(browser: Browser, base_url: str) -> None:
    for scheme, colour in (("dark", DARK_BG), ("light", LIGHT_BG)):
        tab = Tab(browser, base_url, color_scheme=scheme)
        tab.page.goto("/")
        assert background(tab.page) == colour
        expect(tab.page.locator("#theme-toggle")).to_have_attribute(
            "aria-pressed", "true" if scheme == "dark" else "false"
        )
        tab.close()


def test_the_toggle_switches_theme_is_remembered_and_never_flashes(browser: Browser, base_url: str) -> None:
    tab = Tab(browser, base_url, color_scheme="dark")
    page = tab.page
    # Record the theme in force when the stylesheet is inserted, i.e. before anything is drawn.
    page.add_init_script("""
      new MutationObserver(function (_, observer) {
        if (document.querySelector('link[rel=stylesheet]')) {
          window.__themeAtCss = document.documentElement.getAttribute('data-theme');
          observer.disconnect();
        }
      }).observe(document, {childList: true, subtree: true});
    """)
    page.goto("/about")
    assert background(page) == DARK_BG
    toggle = page.get_by_role("button", name="Dark mode")
    toggle.click()
    assert background(page) == LIGHT_BG
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.goto("/daily?date=2025-02-04")  # another page: still light, set before the CSS
    assert background(page) == LIGHT_BG
    assert page.evaluate("window.__themeAtCss") == "light"
    toggle.click()
    assert background(page) == DARK_BG
    page.reload()
    assert background(page) == DARK_BG and page.evaluate("window.__themeAtCss") == "dark"
    tab.close()


# -- phone layout -------------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
def test_on_a_phone_the_first_title_is_within_420_px(
    browser: Browser, base_url: str, demo_url: str, signed_in: bool
) -> None:
    for url in (base_url, demo_url):
        tab = Tab(browser, url, viewport=PHONE, is_mobile=True, has_touch=True)
        page = tab.page
        if signed_in:
            log_in(page, "a.rather.long.address@example.org" if url == demo_url else "reader@example.org")
        paths = ["/", "/trending"] + (["/daily?week=2025-W06", "/papers/2502.00004", "/search?q=decoding"]
                                      if url == base_url else ["/undated"])
        for path in paths:
            page.goto(path)
            title = page.locator("main article h1, main article h3").first
            box = title.bounding_box()
            if not path.startswith("/search"):  # the search page has its filter form first
                assert box is not None and box["y"] + box["height"] <= 420, (url, path, box)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways ({width}px)"
            links = page.locator("main article .links").first
            if links.count():
                right = page.evaluate("e => e.getBoundingClientRect().right", links.element_handle())
                last = page.evaluate(
                    "e => e.lastElementChild && e.lastElementChild.getBoundingClientRect().right",
                    links.element_handle(),
                )
                assert last is None or last <= right + 1, f"{path}: links run past the card"
        tab.close()


# -- keyboard shortcuts ---------------------------------------------------------------------------


def test_keyboard_shortcuts_move_upvote_and_search_but_not_while_typing(tab: Tab) -> None:
    page = tab.page
    log_in(page)
    page.goto("/daily?date=2025-02-04")
    cards = page.locator("main article[data-card]")
    page.keyboard.press("j")
    expect(cards.nth(0)).to_have_class("paper current")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(cards.nth(2)).to_have_class("paper current")
    expect(cards.nth(0)).to_have_class("paper")
    page.keyboard.press("k")
    expect(cards.nth(1)).to_have_class("paper current")
    second = cards.nth(1).locator("[data-shortcut=upvote]")
    count = int(second.locator("[data-count]").inner_text())
    url = page.url
    page.keyboard.press("u")
    expect(second.locator("[data-count]")).to_have_text(str(count + 1))
    expect(second).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("s")  # nothing to save yet: nothing happens
    assert page.url == url
    page.keyboard.press("/")
    search = page.locator("#site-search")
    expect(search).to_be_focused()
    page.keyboard.type("jku/")  # typed into the field, not taken as shortcuts
    expect(search).to_have_value("jku/")
    expect(cards.nth(1)).to_have_class("paper current")
    expect(second.locator("[data-count]")).to_have_text(str(count + 1))
    page.goto("/about")
    expect(page.locator("#keys + table")).to_contain_text("upvote")


# -- screenshots ------------------------------------------------------------------------------

PAGES = [
    ("home", "/"),
    ("week", "/daily?week=2025-W06"),
    ("search", "/search?q=speculative+decoding"),
    ("paper", "/papers/2502.00004"),
    ("paper-arxiv", "/papers/2501.09999"),
    ("about", "/about"),
    ("login", "/login"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_the_main_pages(
    browser: Browser, base_url: str, demo_url: str, scheme: str, width: str, viewport: dict[str, int]
) -> None:
    tab = Tab(browser, base_url, viewport=viewport, color_scheme=scheme)
    page = tab.page
    for name, path in PAGES:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        if name == "paper":
            expect(page.locator("#related article").first).to_be_visible()
        page.evaluate("document.fonts.ready")
        assert background(page) == (DARK_BG if scheme == "dark" else LIGHT_BG)
        shot(page, f"{name}-{width}-{scheme}", first_screen=name in ("home", "paper"))
    tab.close()
    demo = Tab(browser, demo_url, viewport=viewport, color_scheme=scheme)
    demo.page.goto("/")
    expect(demo.page.locator("#undated")).to_be_visible()
    shot(demo.page, f"demo-home-{width}-{scheme}", first_screen=True)
    demo.close()
