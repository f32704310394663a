"""A real browser (Playwright driving Debian's Chromium) against the real app on a real uvicorn
server: browse a day and the next, open a paper, follow a related paper, sign up, upvote, search
with a filter, and subscribe to a search's feed. Screenshots of the main pages are written to
`test-artifacts/screenshots/` for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import webdata
from digestdata import BASE_URL, mail_env
from lxml import etree
from playwright.sync_api import Browser, BrowserContext, Page, expect
from smtp_sink import SmtpSink

import paperfeed

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# Paper thumbnails live on Hugging Face's CDN; there is no internet here, so the browser's
# requests to it are answered with the app's own placeholder image.
THUMBNAIL_HOSTS = "https://cdn-thumbnails.huggingface.co/**"
PLACEHOLDER = (Path(paperfeed.__file__).parent / "web" / "static" / "thumbnail.svg").read_bytes()


def answer_thumbnails(context: BrowserContext) -> None:
    context.route(THUMBNAIL_HOSTS, lambda route: route.fulfill(body=PLACEHOLDER, content_type="image/svg+xml"))


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    """The mail server sign-up links go through (a real SMTP server on loopback)."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as env:
        mail_env(env, smtp.url)  # before the library reads its configuration
        with paperfeed.open(root / "home") as lib:
            webdata.build(lib, root / "data")
            for scheme in ("light", "dark"):  # made as `paperfeed users add` does
                lib.accounts.signup(f"grace.hopper.{scheme}@example.org", "correct horse battery")
            with webdata.serving(lib) as url:
                yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
    answer_thumbnails(context)
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert not errors, f"browser console errors (CSP violations?): {errors}"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_browse_a_day_then_the_next_then_a_paper_and_a_related_one(page: Page) -> None:
    page.goto("/daily?date=2025-02-04")
    expect(page.locator("h1")).to_have_text("Papers of Tue 4 Feb 2025")
    shot(page, "daily")
    page.click("#next")
    expect(page.locator("h1")).to_have_text("Papers of Thu 6 Feb 2025")
    page.click("#prev")
    expect(page.locator("h1")).to_have_text("Papers of Tue 4 Feb 2025")
    page.click("text=Speculative Decoding for Large Language Models")
    expect(page.locator("#title")).to_have_text("Speculative Decoding for Large Language Models")
    # Related papers arrive by the page's one script; then follow one.
    related = page.locator("#related article h3 a")
    expect(related.first).to_be_visible()
    shot(page, "paper")
    target = page.locator("#related article h3 a", has_text="Speculative Sampling with Draft Trees")
    target.click()
    expect(page.locator("#title")).to_have_text("Speculative Sampling with Draft Trees")


def test_hostile_paper_text_shows_as_text(page: Page) -> None:
    page.goto("/papers/2502.00003")
    expect(page.locator("#title")).to_have_text(webdata.XSS_TITLE)
    expect(page.locator("#abstract")).to_contain_text('<img src=x onerror="alert(1)">')
    expect(page.locator("#ai-summary")).to_contain_text('<script>alert("summary")</script>')
    # No element from the paper's text (its one thumbnail URL is javascript:, so not shown).
    assert page.locator("img[src=x], article.full img").count() == 0
    assert page.locator("main script").count() == 0


def test_sign_up_and_upvote(page: Page, smtp: SmtpSink) -> None:
    page.goto("/signup")
    shot(page, "signup")
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button:has-text('Sign up')")
    expect(page.locator("h1")).to_have_text("Check your email")
    expect(page.locator("header .account .who")).to_have_count(0)  # not signed in before the link
    text = smtp.recorder.to("ada@example.org")[-1].message.get_body(("plain",)).get_content()
    link = re.search(rf"{re.escape(BASE_URL)}(/signup/verify\?token=\S+)", text)
    assert link, text
    page.goto(link.group(1))  # opening the emailed link
    shot(page, "signup-verify")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button:has-text('Create my account')")
    expect(page.locator("header .account")).to_contain_text("ada@example.org")
    page.goto("/daily?date=2025-02-06")
    vote = page.locator("form[action='/papers/2502.00007/upvote'] button")
    expect(vote.locator(".count")).to_have_text("3")
    vote.click()
    expect(page.locator("h1")).to_have_text("Papers of Thu 6 Feb 2025")  # back where we were
    expect(vote.locator(".count")).to_have_text("4")
    expect(vote).to_have_class("on")
    shot(page, "daily-voted")
    page.goto("/account")
    expect(page.locator("main")).to_contain_text("Graph Neural Networks for Molecules")
    shot(page, "account")


def test_search_with_a_filter_and_subscribe_to_its_feed(page: Page) -> None:
    page.goto("/search")
    page.fill("#search-form input[name=q]", "speculative decoding")
    page.fill("#search-form input[name=category]", "cs.CL")
    page.click("#search-form button[type=submit]")
    results = page.locator("article h3 a")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("Language Model Decoding Strategies Revisited")
    shot(page, "search")
    feed_url = page.locator("#search-feed").get_attribute("href")
    assert feed_url and feed_url.startswith("/feeds/search.atom?")
    feed = page.request.get(feed_url)  # what a feed reader subscribing to that URL gets
    assert feed.ok and feed.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(feed.body())
    titles = root.xpath("//a:entry/a:title/text()", namespaces={"a": "http://www.w3.org/2005/Atom"})
    assert titles == ["Language Model Decoding Strategies Revisited"]


def test_trending_and_about_pages(page: Page) -> None:
    page.goto("/trending")
    expect(page.locator("h1")).to_have_text("Trending")
    shot(page, "trending")
    page.goto("/about")
    expect(page.locator("#trending")).to_be_visible()


def test_api_docs_render_without_the_internet(browser: Browser, base_url: str) -> None:
    """Swagger UI and ReDoc come from the package, not a CDN: the machine has no internet, so a
    CDN script would leave the page blank. ReDoc's bundle still asks for its own logo from
    cdn.redoc.ly; the docs' CSP blocks that (the only console error allowed here)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requested.append(r.url))
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/daily_papers").first).to_be_visible()
    shot(page, "api-docs")
    page.goto("/redoc")
    expect(page.get_by_text("/api/papers/search").first).to_be_attached()
    context.close()
    fetched = [u for u in requested if u.startswith("http") and not u.startswith(base_url)]
    assert all("cdn.redoc.ly" in u for u in fetched), fetched
    assert all("cdn.redoc.ly" in e and "Content Security Policy" in e for e in errors), errors


def _header_in_one_row(page: Page) -> bool:
    """Whether the visible parts of the site header stand in one row: every part's box overlaps
    every other's vertically (on two rows, the second row's top is below the first's bottom)."""
    boxes = page.eval_on_selector_all(
        "header.site > *:not([hidden])",
        "els => els.filter(e => e.offsetParent !== null).map(e => {"
        " const r = e.getBoundingClientRect(); return [r.top, r.bottom]; })",
    )
    assert len(boxes) == 4  # brand, menu, search box, account
    return max(top for top, _ in boxes) < min(bottom for _, bottom in boxes)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_signed_in_header_fits_one_row_on_a_desktop_and_a_phone(
    browser: Browser, base_url: str, scheme: str
) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800},
                                  color_scheme=scheme)  # type: ignore[arg-type]
    answer_thumbnails(context)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=email]", f"grace.hopper.{scheme}@example.org")
    page.fill("input[name=password]", "correct horse battery")
    page.click("main button[type=submit]")
    page.goto("/daily?date=2025-02-06")
    expect(page.locator("header .account")).to_contain_text(f"grace.hopper.{scheme}@example.org")
    expect(page.locator("header nav")).to_contain_text("Library")
    assert _header_in_one_row(page)
    shot(page, f"header-signed-in-desktop-{scheme}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/daily?date=2025-02-06")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out
    for name in ("Daily", "Library", "Submit"):  # the menu stays reachable (it scrolls sideways)
        expect(page.locator("header nav").get_by_role("link", name=name)).to_be_attached()
    assert page.locator("header .account").get_by_role("button", name="Log out").is_visible()
    shot(page, f"header-signed-in-phone-{scheme}")
    context.close()
