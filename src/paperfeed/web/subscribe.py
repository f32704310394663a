"""Email digest subscriptions on the web.

- `GET/POST /subscribe`: the form (email, topics, trending, frequency); the POST emails a signed
  confirmation link (double opt-in), within the limits of `digest.requests`. The answer is the
  same whether or not the address was known, and an active subscription cannot be changed by
  someone who merely knows its address; only a requester who asked for the address before is
  told when its latest link went out and when to ask again.
- `GET /subscribe/confirm?token=`: the link in that email: a page with a button, whose
  `POST /subscribe/confirm?token=` makes the subscription active.
- `POST /unsubscribe?token=`: RFC 8058 one-click unsubscribe, what mail clients POST
  (`List-Unsubscribe=One-Click`), and the button of `GET /unsubscribe?token=` (the link in the
  email's body), which itself changes nothing: mail scanners open links.
- A link whose subscription was removed answers 410 and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.digest import requests
from paperfeed.digest.tokens import LinkExpired
from paperfeed.errors import InvalidInput
from paperfeed.ratelimit import RateLimited
from paperfeed.web.common import check_csrf, library, render, session

router = APIRouter()
MAX_FORM_TOPICS_CHARS = 5000


def _no_mail(request: Request) -> Response | None:
    """Without an SMTP server no confirmation can be sent: say that digests are not available
    (what to configure only to an admin), instead of a form that can only fail."""
    if library(request).config.smtp_url:
        return None
    current = session(request)
    context = {"unavailable": True, "admin": bool(current and current.user.is_admin)}
    return render(request, "subscribe.html", context, status_code=503 if request.method == "POST" else 200)


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> Response:
    return _no_mail(request) or render(
        request, "subscribe.html", {"sent": False, "error": None, "email": "", "topics": ""}
    )


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    topics: Annotated[str, Form(max_length=MAX_FORM_TOPICS_CHARS)] = "",
    trending: Annotated[str | None, Form()] = None,
    frequency: Annotated[str, Form(max_length=20)] = "weekdays",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    if unavailable := _no_mail(request):
        return unavailable
    topic_list = [t for t in topics.splitlines() if t.strip()]
    try:
        reminder = requests.request(
            library(request).digests, email, topic_list, trending=trending is not None,
            frequency=frequency, client=request.client.host if request.client else "",
        )
    except InvalidInput as exc:
        context = {"sent": False, "error": str(exc), "email": email, "topics": topics}
        status = 429 if isinstance(exc, RateLimited) else 400
        return render(request, "subscribe.html", context, status_code=status)
    context = {
        "sent": True, "error": None, "email": "", "topics": "",
        "cooldown_minutes": int(requests.COOLDOWN.window.total_seconds() // 60),
        "reminder": reminder and {"sent_at": _utc(reminder.sent_at), "again_at": _utc(reminder.again_at)},
    }
    return render(request, "subscribe.html", context)


def _utc(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# The links in emails. Opening one (GET, or HEAD: mail scanners and link previews fetch them)
# changes nothing: it shows what the link is for and a button; the button's POST acts. The signed
# token in the URL is the authority (no login, no CSRF token: mail clients cannot fetch a form
# first, and RFC 8058 one-click is a single POST of `List-Unsubscribe=One-Click`).


def _link_page(request: Request, token: str, action: str) -> Response:
    digests = library(request).digests
    try:
        sub = digests.confirming(token) if action == "confirm" else digests.unsubscribing(token)
    except LinkExpired as exc:
        return _expired(request, exc)
    context = {"action": f"ask-{action}", "email": sub.email, "token": token,
               "sub": sub if action == "confirm" else None}  # what confirming agrees to
    return render(request, "subscribe_done.html", context)


def _expired(request: Request, exc: LinkExpired) -> Response:
    return render(request, "subscribe_done.html", {"action": "expired", "message": str(exc)},
                  status_code=410)


@router.get("/subscribe/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, token: str = "") -> Response:
    return _link_page(request, token, "confirm")


@router.post("/subscribe/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: str = "") -> Response:
    try:
        sub = library(request).digests.confirm(token)
    except LinkExpired as exc:
        return _expired(request, exc)
    return render(request, "subscribe_done.html", {"action": "confirmed", "email": sub.email})


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = "") -> Response:
    return _link_page(request, token, "unsubscribe")


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str = "") -> Response:
    """The one-click POST of mail clients, and the page's button."""
    try:
        sub = library(request).digests.unsubscribe(token)
    except LinkExpired as exc:
        return _expired(request, exc)
    return render(request, "subscribe_done.html", {"action": "unsubscribed", "email": sub.email})
