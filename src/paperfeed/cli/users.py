"""`paperfeed users ...`: accounts from the terminal (make an admin, list accounts)."""

from __future__ import annotations

from typing import Annotated

import typer

from paperfeed import accounts
from paperfeed.cli.common import echo_json, opened_store, say
from paperfeed.models import ROLES

users_app = typer.Typer(help="Manage accounts (roles: user, curator, admin).", no_args_is_help=True)


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Email address of the account.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "user",
    name: Annotated[str, typer.Option(help="Display name (default: the email's local part).")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="PAPERFEED_NEW_PASSWORD",
            help="Password (prompted when omitted; or $PAPERFEED_NEW_PASSWORD).",
        ),
    ] = "",
) -> None:
    """Create an account, e.g. `paperfeed users add me@example.org --role admin`."""
    with opened_store() as store:
        user = accounts.add_user(store, email=email, password=password, role=role, name=name)
    say(f"created {user.role} {user.email}")


@users_app.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="Email address of the account.")],
    role: Annotated[str, typer.Argument(help=f"One of {', '.join(ROLES)}.")],
) -> None:
    """Change an account's role."""
    with opened_store() as store:
        user = accounts.set_role(store, email=email, role=role)
    say(f"{user.email} is now {user.role}")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List accounts."""
    with opened_store(existing=True) as store:
        users = store.list_users()
    if as_json:
        echo_json([{"email": u.email, "name": u.name, "role": u.role} for u in users])
        return
    for u in users:
        say(f"{u.role:<8} {u.email}  ({u.name})")
    if not users:
        say("no accounts yet (the first to sign up becomes admin)")


def register(app: typer.Typer) -> None:
    """Add `paperfeed users ...` to the main CLI."""
    app.add_typer(users_app, name="users")
