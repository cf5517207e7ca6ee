"""`paperfeed serve`: the web app, with the daily digest job beside it.

Everything that can fail is done before the "serving on" line: the store is opened (and the
sample loaded on an empty catalogue), the data directory checked, the port bound. The links
in emails and feeds use PAPERFEED_BASE_URL, else the address actually bound.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer
import uvicorn

from paperfeed.cli.common import opened_store, say, state
from paperfeed.errors import ServiceUnavailable
from paperfeed.progress import Progress
from paperfeed.sample import load_sample
from paperfeed.search.follow import following_imports
from paperfeed.search.indexer import sync_keyword
from paperfeed.store import Store
from paperfeed.store.failures import check_writable
from paperfeed.web.app import create_app

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on (host, port); a clear error when that is impossible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until the app accepts them
    except OSError as exc:
        sock.close()
        raise ServiceUnavailable(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another --port or --host, or stop what is using it"
        ) from None
    return sock


def url_for(host: str, port: int) -> str:
    """The http URL of a bound address (the machine's name for wildcard binds)."""
    name = socket.getfqdn() if host in WILDCARD_HOSTS else host
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8000,
    no_sample: Annotated[
        bool, typer.Option("--no-sample", help="Do not load the bundled sample corpus.")
    ] = False,
) -> None:
    """Start the web app (loads the bundled sample on an empty data directory)."""
    settings = state.settings
    check_writable(settings.data_dir)  # sessions, votes, indexes: a read-only or full disk
    with opened_store() as store:
        papers = store.stats().papers
        if not no_sample and papers == 0:
            say(f"Empty catalogue in {settings.data_dir}: loading the bundled sample…")
            with following_imports(store, settings):  # indexed beside the import
                report = load_sample(store)
            say(report.summary())
        build_keyword_index(store)
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    address = url_for(host, bound_port)
    if settings.base_url_derived:
        settings.use_served_url(address)
        how = "the address served (set PAPERFEED_BASE_URL for a public URL)"
    else:
        how = "PAPERFEED_BASE_URL"
    announce = [
        f"paperfeed serving on {address}/  (data: {settings.data_dir})",
        f"links in emails and feeds use {settings.base_url}  ({how})",
    ]
    app = create_app(settings, background_jobs=True)  # + daily digests at settings.digest_time
    config = uvicorn.Config(app, log_level="warning")
    AnnouncingServer(config, announce).run(sockets=[sock])


class AnnouncingServer(uvicorn.Server):
    """Says it serves only once the app has started (stores and indexes open) and the
    socket is served: a failure before that is an error, never a false "serving on"."""

    def __init__(self, config: uvicorn.Config, lines: list[str]) -> None:
        super().__init__(config)
        self.lines = lines

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            for line in self.lines:
                say(line)


def build_keyword_index(store: Store) -> None:
    """Index what the database has and this data directory's keyword index lacks, with
    progress, before answering: a new instance (say, another one on a shared PostgreSQL
    database) serves keyword search from its first request; vectors follow in the
    background, and every instance keeps following the change sequence while it runs."""
    progress = Progress()
    sync_keyword(store, state.settings.index_dir, progress=progress.phase)
    progress.finish()


def register(app: typer.Typer) -> None:
    """Add `serve` to the main CLI."""
    app.command()(serve)
