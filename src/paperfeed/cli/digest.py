"""`paperfeed digest ...` and `paperfeed subscribers ...`: the digest job and its operators."""

from __future__ import annotations

from typing import Annotated

import typer

from paperfeed.cli.common import opened_store, say, state
from paperfeed.digest import subscriptions
from paperfeed.digest.send import preview_digest, send_digests
from paperfeed.housekeeping import purge

digest_app = typer.Typer(help="Send or preview the email digests.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Manage digest subscribers.", no_args_is_help=True)


@digest_app.command("send")
def digest_send(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compose and render, send and record nothing.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Handle at most this many due subscribers.")
    ] = None,
    resend_in_doubt: Annotated[
        bool,
        typer.Option(
            "--resend-in-doubt",
            help="Resend digests a killed run left in doubt (may duplicate those delivered).",
        ),
    ] = False,
) -> None:
    """Send every due digest (for cron: exactly once per subscriber per day/week), then
    purge expired rows (`paperfeed.housekeeping`)."""
    with opened_store() as store:
        report = send_digests(
            state.settings, store, dry_run=dry_run, limit=limit, resend_in_doubt=resend_in_doubt
        )
        purged = None if dry_run else purge(store)
    say(report.summary())
    if purged is not None:
        say(purged.summary())
    if report.failed:
        raise typer.Exit(1)


@digest_app.command("preview")
def digest_preview(
    email: Annotated[str, typer.Argument(help="Subscriber address.")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
) -> None:
    """Print the digest EMAIL would get now (nothing is sent or recorded)."""
    with opened_store(existing=True) as store:
        sub = subscriptions.subscriber_by_email(store, email)
        digest, rendered = preview_digest(state.settings, store, sub)
    say(f"Subject: {rendered.subject}")
    if digest.empty:
        say("(empty: this digest would not be sent)")
    say("")
    say(rendered.html if html else rendered.text)


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument(help="Address to subscribe.")],
    frequency: Annotated[str, typer.Option(help="daily or weekly.")] = "daily",
    search: Annotated[
        list[str] | None, typer.Option("--search", help="A saved search (repeatable).")
    ] = None,
    confirmed: Annotated[
        bool,
        typer.Option("--confirmed", help="Skip the confirmation email (you vouch for it)."),
    ] = False,
    no_trending: Annotated[
        bool, typer.Option("--no-trending", help="Only saved-search alerts.")
    ] = False,
) -> None:
    """Add a subscriber; without --confirmed a confirmation email is sent."""
    with opened_store() as store:
        if confirmed:
            sub, created = subscriptions.add_subscriber_confirmed(
                store,
                email=email,
                frequency=frequency,
                searches=search,
                confirmed=True,
                trending=not no_trending,
            )
            say(f"{'added' if created else 'updated'} {sub.email} ({sub.frequency}, confirmed)")
        else:
            subscriptions.subscribe(
                state.settings,
                store,
                email=email,
                frequency=frequency,
                trending=not no_trending,
                searches=search,
            )
            say(f"confirmation email sent to {email.strip()}")


@subscribers_app.command("list")
def subscribers_list(
    status: Annotated[
        str | None,
        typer.Option(help="Only active, unconfirmed, unsubscribed or bounced subscribers."),
    ] = None,
) -> None:
    """List subscribers with their status and saved searches."""
    with opened_store(existing=True) as store:
        after = 0
        shown = 0
        while batch := store.list_subscribers(after_id=after, limit=1000):
            after = batch[-1].id
            for s in batch:
                label = "unconfirmed" if s.status == "active" and not s.confirmed_at else s.status
                if status and label != status:
                    continue
                shown += 1
                line = f"{s.email:<40} {s.frequency:<7} {label:<12}"
                line += f" trending={'on' if s.trending else 'off'}"
                if s.last_digest_at:
                    line += f" last={s.last_digest_at:%Y-%m-%d %H:%M}"
                if s.status_reason and s.status != "active":
                    line += f" ({s.status_reason})"
                say(line)
                for saved in s.searches:
                    say(f"    search #{saved.id}: {saved.query}")
        counts = store.subscriber_counts()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no subscribers"
    say(f"{shown} shown; {summary}")


@subscribers_app.command("remove")
def subscribers_remove(email: Annotated[str, typer.Argument(help="Address to remove.")]) -> None:
    """Delete a subscriber and everything recorded about it."""
    with opened_store() as store:
        sub = subscriptions.remove_subscriber(store, email)
    say(f"removed {sub.email}")


def register(app: typer.Typer) -> None:
    """Add `paperfeed digest ...` and `paperfeed subscribers ...` to the main CLI."""
    app.add_typer(digest_app, name="digest")
    app.add_typer(subscribers_app, name="subscribers")
