"""`paperfeed worker`: background jobs (digest sending, embedding backfill), any number at once."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from paperfeed.cli.common import opened_store, say, state
from paperfeed.worker import UNTIL_IDLE_GIVE_UP


def worker(
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Exit once no job is queued or running anywhere."),
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Seconds a claimed job stays this worker's without a heartbeat; after it, "
            "another worker takes the job over (a killed worker's job waits this long).",
        ),
    ] = 60.0,
    poll: Annotated[
        float, typer.Option(min=0.05, help="Seconds between looks at an empty queue.")
    ] = 2.0,
    plan_every: Annotated[
        float, typer.Option(min=0.0, help="Seconds between two looks for due digests.")
    ] = 30.0,
    no_embed: Annotated[
        bool, typer.Option("--no-embed", help="Do not backfill the local search indexes.")
    ] = False,
    give_up_after: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="With --until-idle: seconds a database outage (or full disk) is waited out "
            "before the worker gives up with exit 1 (a cron job never hangs). Without "
            "--until-idle the worker keeps trying.",
        ),
    ] = UNTIL_IDLE_GIVE_UP,
) -> None:
    """Run background jobs: digests at PAPERFEED_DIGEST_TIME, embedding backfill, ..."""
    from paperfeed.worker import Worker

    with opened_store() as store:
        job = Worker(
            state.settings,
            store,
            lease_s=lease,
            poll_s=poll,
            plan_every=plan_every,
            embed=not no_embed,
        )

        def stop(signum: int, frame: Any) -> None:
            job.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        say(f"paperfeed worker {job.name} started (lease {lease:.0f} s)", err=True)
        report = job.run(until_idle=until_idle, give_up_after=give_up_after)
    say(report.summary())


def register(app: typer.Typer) -> None:
    """Add `worker` to the main CLI."""
    app.command()(worker)
