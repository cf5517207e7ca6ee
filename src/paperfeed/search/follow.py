"""The keyword index built while an import is still writing, not after it.

`following_imports(store, settings)` runs `sync_keyword` in a thread beside the import: each
time a full batch of changes is committed to the store, the thread indexes it. tantivy
tokenizes in its own threads without the GIL, so the index work overlaps the import's
parsing and writing instead of following it. On leaving the block the rest is indexed in
the caller's thread, so when it returns every imported paper is findable, exactly as after
a plain `sync_keyword_index`. The index is derived: a killed run loses nothing the next
sync cannot redo from the store's change sequence.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from paperfeed.search.indexer import sync_keyword
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

FOLLOW_BATCH = 20_000  # papers per index commit while following (as `sync_keyword`)
POLL_SECONDS = 0.2


@contextmanager
def following_imports(
    store: Store, settings: Settings, *, batch: int = FOLLOW_BATCH
) -> Iterator[None]:
    """Keep the keyword index following the store while the block imports into it."""
    stop = threading.Event()

    def follow() -> None:
        while not stop.is_set():
            try:
                done = sync_keyword(store, settings.index_dir, batch=batch, leave=batch)
            except Exception:  # the final sync below retries and reports it
                log.exception("keyword index: following the import failed")
                return
            if not done:
                stop.wait(POLL_SECONDS)

    thread = threading.Thread(target=follow, name="paperfeed-keyword-follower", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    sync_keyword(store, settings.index_dir, batch=batch)
