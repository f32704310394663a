"""Email subscriptions and digests.

- `subscriptions`: subscribers, their topics and frequency, double opt-in, unsubscribe.
- `tokens`: the signed links in confirmation and digest emails.
- `topics`: matching topics (saved searches) against the papers that arrived since a digest.
- `compose`: which papers a digest holds, and the email message (text + HTML).
- `outbox`: the exactly-once outbox in the database; `smtp`: delivery; `send`: a send run.
"""

from paperfeed.digest.send import Digests, SendReport
from paperfeed.digest.subscriptions import Subscriber, Subscriptions

__all__ = ["Digests", "SendReport", "Subscriber", "Subscriptions"]
