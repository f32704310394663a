"""Email digest subscriptions on the web.

- `GET/POST /subscribe`: the form (email, topics, trending, frequency); the POST emails a signed
  confirmation link (double opt-in). The answer is the same whether or not the address was known,
  and an active subscription cannot be changed by someone who merely knows its address.
- `GET /subscribe/confirm?token=`: the link in that email; the subscription becomes active.
- `POST /unsubscribe?token=`: RFC 8058 one-click unsubscribe, what mail clients POST
  (`List-Unsubscribe=One-Click`). No login and no CSRF token, by design: the signed token in the
  URL is the authority, and mail clients cannot fetch a form first.
- `GET /unsubscribe?token=`: the link in the email's body; it does the same and says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from paperfeed.errors import InvalidInput
from paperfeed.web.common import check_csrf, library, render

router = APIRouter()
MAX_FORM_TOPICS_CHARS = 5000


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> Response:
    return render(request, "subscribe.html", {"sent": False, "error": None, "email": "", "topics": ""})


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
    topic_list = [t for t in topics.splitlines() if t.strip()]
    try:
        library(request).digests.subscribe(
            email, topic_list, trending=trending is not None, frequency=frequency
        )
    except InvalidInput as exc:
        context = {"sent": False, "error": str(exc), "email": email, "topics": topics}
        return render(request, "subscribe.html", context, status_code=400)
    return render(request, "subscribe.html", {"sent": True, "error": None, "email": "", "topics": ""})


@router.get("/subscribe/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: str = "") -> Response:
    sub = library(request).digests.confirm(token)
    return render(request, "subscribe_done.html", {"action": "confirmed", "email": sub.email})


@router.post("/unsubscribe")
def unsubscribe_one_click(request: Request, token: str = "") -> Response:
    library(request).digests.unsubscribe(token)
    return PlainTextResponse("You are unsubscribed.\n")


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = "") -> Response:
    sub = library(request).digests.unsubscribe(token)
    email = sub.email if sub is not None else None
    return render(request, "subscribe_done.html", {"action": "unsubscribed", "email": email})
