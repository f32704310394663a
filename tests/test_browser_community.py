"""Submitting and discussing in a real browser (Playwright on Debian's Chromium, launched as in
test_browser.py) against the real app on a real uvicorn server and a real local server speaking
the arXiv API's Atom (`harvest_peers`): sign up, submit an arXiv id, see it on today's list with
who submitted it, comment (a `<script>` stays text). Screenshots of the submit form and a paper
page with comments, desktop and phone, light and dark, go to `test-artifacts/screenshots/community/`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import webdata
from harvest_peers import ApiPeer, Peer
from playwright.sync_api import Browser, Page, expect
from test_browser import SHOTS

from paperfeed.config import Config
from paperfeed.library import Library

SHOT_DIR = SHOTS / "community"
PASSWORD = "correct horse battery"
TODAY = datetime.now(UTC).date()
RECENT = (TODAY - timedelta(days=1)).isoformat()
PAPER = "2611.04242"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("community")
    entries = {PAPER: ("Attention sinks in streaming speech models", "cs.CL", RECENT)}
    with Peer(api=ApiPeer(entries)) as peer:
        config = Config.from_env(home=root / "home")
        harvest = dataclasses.replace(config.harvest, arxiv_api_url=peer.url + "/api/query",
                                      arxiv_interval=0.0, timeout=5, attempts=1)
        with Library(dataclasses.replace(config, harvest=harvest)) as lib, webdata.serving(lib) as url:
            # Accounts made as `paperfeed users add` does (web sign-up by email link is
            # tests/test_browser.py's and tests/test_security_signup.py's).
            for email in ["ada@example.org"] + [f"shot-{w}-{s}@example.org" for w in ("desktop", "phone")
                                                for s in ("light", "dark")]:
                lib.accounts.signup(email, PASSWORD)
            yield url


def shot(page: Page, name: str) -> None:
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT_DIR / f"{name}.png"), full_page=True)


def sign_up(page: Page, email: str) -> None:
    """Log in with an account made beforehand."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("header .account")).to_contain_text(email)


def test_sign_up_submit_see_it_on_todays_list_and_comment(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_up(page, "ada@example.org")
    page.click("header nav a:text('Submit')")
    expect(page.locator("main h1")).to_have_text("Submit a paper")
    page.fill("#submit-paper", "not-an-id")
    page.click("#submit-form button")
    expect(page.locator("#submit-error")).to_contain_text("not an arXiv id")
    page.fill("#submit-paper", f"https://arxiv.org/abs/{PAPER}")
    page.click("#submit-form button")
    card = page.locator(f"[id='paper-{PAPER}']")
    expect(card).to_contain_text("Attention sinks in streaming speech models")
    expect(card).to_contain_text("Submitted by ada")
    assert f"date={TODAY.isoformat()}" in page.url
    card.locator("h3 a").click()
    expect(page.locator("#submitted-by")).to_have_text("Submitted by ada")
    page.fill("#comment-body", "<script>window.__pwned = 1</script> Nice result.\n\nCode: https://example.org/code")
    page.click("#comment-form button")
    comment = page.locator("#discussion article.comment").first
    expect(comment).to_contain_text("<script>window.__pwned = 1</script> Nice result.")
    assert page.evaluate("window.__pwned === undefined")
    link = comment.locator("a[href='https://example.org/code']")
    expect(link).to_have_attribute("rel", "nofollow ugc noopener")
    expect(comment.locator(".text p")).to_have_count(2)
    page.goto(f"/daily?date={TODAY.isoformat()}")
    expect(page.locator(f"a[href='/papers/{PAPER}#discussion']")).to_have_text("1 comment")
    context.close()
    # the one refused submission answers 400 on purpose (the form shown again with why)
    assert [e for e in errors if "status of 400" not in e] == [], errors
    assert len(errors) <= 1


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_the_submit_form_and_a_discussed_paper(
    browser: Browser, base_url: str, scheme: str, width: str, viewport: dict[str, int]
) -> None:
    context = browser.new_context(base_url=base_url, viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    sign_up(page, f"shot-{width}-{scheme}@example.org")
    page.goto("/submit")
    expect(page.locator("#submit-form")).to_be_visible()
    shot(page, f"submit-{width}-{scheme}")
    page.goto(f"/papers/{PAPER}")
    if page.locator("#discussion article.comment").count() == 0:  # the first test not run alone
        page.fill("#comment-body", "A first comment.\n\nWith a second paragraph and https://example.org.")
        page.click("#comment-form button")
    page.fill("#comment-body", f"Seen on {width} in {scheme} mode.")
    page.click("#comment-form button")
    expect(page.locator("#discussion")).to_contain_text(f"Seen on {width} in {scheme} mode.")
    page.locator("#discussion").scroll_into_view_if_needed()
    shot(page, f"paper-comments-{width}-{scheme}")
    context.close()
