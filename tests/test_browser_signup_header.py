"""The header's "Sign up" button in a real browser (Playwright driving Debian's Chromium against
the real app on uvicorn): shown when web sign-up is open (a mail server is configured), absent
when it is closed, where the log-in page says whom to ask. Screenshots of both, desktop and phone,
light and dark, go to `test-artifacts/screenshots/signup-header/`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import webdata
from digestdata import mail_env
from playwright.sync_api import Browser, expect
from smtp_sink import SmtpSink
from test_browser import SHOTS, answer_thumbnails

import paperfeed

HEADER_SHOTS = SHOTS / "signup-header"
# Generous waits: a loaded machine (the tests run niced beside benchmarks) can take a while to
# serve a page; nothing here measures time.
WAIT_MS = 180_000
expect.set_options(timeout=WAIT_MS)
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module", params=["open", "closed"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    state: str = request.param
    root = tmp_path_factory.mktemp(f"signup-{state}")
    with pytest.MonkeyPatch.context() as env:
        sink = SmtpSink().start() if state == "open" else None
        if sink is not None:
            mail_env(env, sink.url)
        else:
            env.delenv("PAPERFEED_SMTP_URL", raising=False)
        try:
            with paperfeed.open(root / "home") as lib:
                webdata.build(lib, root / "data")
                with webdata.serving(lib) as url:
                    yield state, url
        finally:
            if sink is not None:
                sink.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_sign_up_button_shows_only_when_sign_up_is_open(
    browser: Browser, server: tuple[str, str], width: str, scheme: str
) -> None:
    state, url = server
    context = browser.new_context(base_url=url, viewport=VIEWPORTS[width], color_scheme=scheme)
    context.set_default_timeout(WAIT_MS)
    answer_thumbnails(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    HEADER_SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/")
    account = page.locator("header .account")
    expect(account.get_by_role("link", name="Log in")).to_be_visible()
    button = account.locator("a[href='/signup']")
    if state == "open":
        expect(button).to_be_visible()
        expect(button).to_have_text("Sign up")
    else:
        expect(button).to_have_count(0)
    page.screenshot(path=str(HEADER_SHOTS / f"home-{state}-{width}-{scheme}.png"))
    page.goto("/login")
    note = "No account yet? Sign up." if state == "open" else "Ask the administrator of this instance"
    expect(page.locator("main")).to_contain_text(note)
    page.screenshot(path=str(HEADER_SHOTS / f"login-{state}-{width}-{scheme}.png"))
    context.close()
    assert not errors, f"browser console errors: {errors}"
