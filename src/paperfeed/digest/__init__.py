"""Email digests and saved-search alerts: compose -> render -> outbox -> SMTP.

- `compose`: per subscriber, trending papers and new saved-search matches, none sent before.
- `render`: Jinja2 HTML + text, MIME messages with RFC 8058 one-click unsubscribe headers.
- `send`: the exactly-once send job (`send_digests`), the outbox protocol in its docstring.
- `subscriptions`: double opt-in subscribe/confirm/manage/unsubscribe services.
- `scheduler`: `start_scheduler(settings, store)` runs the job daily in `paperfeed serve`.
"""

from paperfeed.digest.scheduler import start_scheduler
from paperfeed.digest.send import SendReport, preview_digest, send_digests

__all__ = ["SendReport", "preview_digest", "send_digests", "start_scheduler"]
