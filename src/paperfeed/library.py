"""A reader's library: collections (public or private), read marks, private notes, follows.

Web routes, the API and the CLI call these; every record goes through the store. A private
collection is invisible to everyone but its owner: asking for it answers 404, as if it did
not exist, so its existence leaks nothing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from paperfeed.errors import BadRequest, Conflict, Forbidden, NotFound
from paperfeed.inputs import check_text, one_newline
from paperfeed.models import FOLLOW_KINDS, Collection, Follow, Note, StoredPaper, User
from paperfeed.store import Store

MAX_NAME = 100
MAX_NOTE = 10_000
MAX_AUTHOR = 200
MAX_COLLECTIONS = 500
MAX_SAVED = 50_000  # papers a reader keeps across all collections
MAX_FOLLOWS = 500
_CATEGORY = re.compile(r"^[a-z][a-z-]{0,19}(\.[A-Za-z][A-Za-z-]{0,19})?$")


def clean_name(name: str) -> str:
    """A collection name: one line, no control characters, 1..MAX_NAME characters."""
    name = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in name)
    name = " ".join(name.split())
    if not name:
        raise BadRequest("the collection needs a name")
    if len(name) > MAX_NAME:
        raise BadRequest(f"collection names are limited to {MAX_NAME} characters")
    return name


def create_collection(store: Store, user: User, name: str, *, public: bool = False) -> Collection:
    name = clean_name(name)
    if len(store.list_collections(user.id)) >= MAX_COLLECTIONS:
        raise BadRequest(f"a reader can keep at most {MAX_COLLECTIONS} collections")
    made = store.create_collection(user_id=user.id, name=name, public=public)
    if made is None:
        raise Conflict(f"you already have a collection named {name!r}")
    return made


def visible_collection(store: Store, user: User | None, collection_id: int) -> Collection:
    """The collection if `user` may see it: public, or theirs. Otherwise 404."""
    found = store.get_collection(collection_id)
    if found is None or not (found.public or (user is not None and user.id == found.user_id)):
        raise NotFound(f"no collection {collection_id}")
    return found


def owned_collection(store: Store, user: User, collection_id: int) -> Collection:
    """The collection if `user` owns it; 404 if they cannot see it, 403 if only see it."""
    found = visible_collection(store, user, collection_id)
    if found.user_id != user.id:
        raise Forbidden("only the owner can change this collection")
    return found


def update_collection(
    store: Store, user: User, collection_id: int, *, name: str | None, public: bool | None
) -> Collection:
    owned_collection(store, user, collection_id)
    new_name = clean_name(name) if name is not None else None
    updated = store.update_collection(collection_id, name=new_name, public=public)
    if updated is None:
        raise Conflict(f"you already have a collection named {new_name!r}")
    return updated


def delete_collection(
    store: Store, user: User, collection_id: int, *, missing_ok: bool = False
) -> None:
    """Delete one of the reader's collections. `missing_ok`: one that is gone (or that the
    reader cannot see, so that its existence still leaks nothing) is no error (a form sent
    twice by a double click)."""
    if missing_ok:
        found = store.get_collection(collection_id)
        if found is None or not (found.public or found.user_id == user.id):
            return
    owned_collection(store, user, collection_id)
    store.delete_collection(collection_id)


def save_paper(store: Store, user: User, collection_id: int, paper_id: str) -> bool:
    """Put a paper into one of the reader's collections; True if it was not there yet."""
    owned_collection(store, user, collection_id)
    if sum(c.paper_count for c in store.list_collections(user.id)) >= MAX_SAVED:
        raise BadRequest(f"a reader can keep at most {MAX_SAVED} papers in collections")
    try:
        return store.add_to_collection(collection_id, check_text(paper_id, "arxivId").strip())
    except KeyError:
        raise NotFound(f"no paper {paper_id!r} in this catalogue") from None


def unsave_paper(
    store: Store, user: User, collection_id: int, paper_id: str, *, missing_ok: bool = False
) -> None:
    """Take a paper out of one of the reader's collections. `missing_ok`: a paper that is not
    there is no error (a form sent twice by a double click asks for what is already done)."""
    owned_collection(store, user, collection_id)
    if not store.remove_from_collection(collection_id, paper_id) and not missing_ok:
        raise NotFound(f"paper {paper_id!r} is not in this collection")


def collection_items(
    store: Store, collection: Collection, *, limit: int = 50, offset: int = 0
) -> list[StoredPaper]:
    return store.collection_papers(collection.id, limit=limit, offset=offset)


def all_items(store: Store, collection: Collection) -> list[StoredPaper]:
    """Every paper of a collection (for exports), in pages."""
    out: list[StoredPaper] = []
    while True:
        page = store.collection_papers(collection.id, limit=1000, offset=len(out))
        out += page
        if len(page) < 1000:
            return out


def find_collection(store: Store, name_or_id: str, *, owner: User | None = None) -> Collection:
    """A collection by id, or by name (of `owner`, or the only one of that name) for the CLI."""
    if name_or_id.isdigit():
        found = store.get_collection(int(name_or_id))
        if found and (owner is None or found.user_id == owner.id):
            return found
    matches = store.find_collections(clean_name(name_or_id), user_id=owner.id if owner else None)
    if not matches:
        raise NotFound(f"no collection named {name_or_id!r}")
    if len(matches) > 1:
        raise BadRequest(
            f"{len(matches)} readers have a collection named {name_or_id!r}; say whose (--user)"
        )
    return matches[0]


# -- read marks and notes ------------------------------------------------------------------


def mark_read(store: Store, user: User, paper_id: str, *, read: bool = True) -> None:
    try:
        store.set_read(user_id=user.id, paper_id=paper_id, read=read)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r} in this catalogue") from None


def set_note(store: Store, user: User, paper_id: str, body: str) -> Note | None:
    """Write (or, with an empty body, delete) the reader's private note on a paper."""
    body = one_newline(check_text(body, "the note")).strip()
    if len(body) > MAX_NOTE:
        raise BadRequest(f"notes are limited to {MAX_NOTE} characters")
    try:
        return store.set_note(user_id=user.id, paper_id=paper_id, body=body)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r} in this catalogue") from None


# -- follows -------------------------------------------------------------------------------


def clean_follow(kind: str, value: str) -> Follow:
    """An author name or an arXiv category (`cs.CL`, `quant-ph`), validated."""
    if kind not in FOLLOW_KINDS:
        raise BadRequest("follow an author or a category")
    value = " ".join(check_text(value, kind).split())
    if not value:
        raise BadRequest(f"the {kind} to follow is empty")
    if kind == "author" and len(value) > MAX_AUTHOR:
        raise BadRequest(f"author names are limited to {MAX_AUTHOR} characters")
    if kind == "category" and not _CATEGORY.match(value):
        raise BadRequest(f"{value!r} is not an arXiv category such as cs.CL or quant-ph")
    return Follow(kind, value)


def can_follow(kind: str, value: str) -> bool:
    """Whether `clean_follow` takes this author or category: a page offers "Follow" only
    then (an author name over MAX_AUTHOR characters, usually an affiliation or a whole
    collaboration parsed as one name, is shown but not offered)."""
    try:
        clean_follow(kind, value)
    except BadRequest:
        return False
    return True


def follow(store: Store, user: User, kind: str, value: str) -> Follow:
    f = clean_follow(kind, value)
    follows = {(x.kind, x.value) for x in store.list_follows(user.id)}
    if (f.kind, f.value) not in follows and len(follows) >= MAX_FOLLOWS:
        raise BadRequest(f"a reader can follow at most {MAX_FOLLOWS} authors and categories")
    store.add_follow(user_id=user.id, kind=f.kind, value=f.value)
    return f


def unfollow(store: Store, user: User, kind: str, value: str, *, missing_ok: bool = False) -> None:
    """Stop following; `missing_ok`: not following it is no error (as for `unsave_paper`)."""
    f = clean_follow(kind, value)
    if not store.remove_follow(user_id=user.id, kind=f.kind, value=f.value) and not missing_ok:
        raise NotFound(f"you do not follow the {f.kind} {f.value!r}")


def reader_state(store: Store, user: User | None, paper_id: str) -> dict[str, Any]:
    """What a paper page shows its signed-in reader: collections, read mark, note, follows."""
    if user is None:
        return {}
    note = store.get_note(user_id=user.id, paper_id=paper_id)
    return {
        "collections": store.list_collections(user.id),
        "in_collections": set(store.collections_with_paper(user.id, paper_id)),
        "is_read": bool(store.read_papers(user.id, [paper_id])),
        "note": note.body if note else "",
        "follows": {(f.kind, f.value) for f in store.list_follows(user.id)},
        "max_name": MAX_NAME,
        "max_note": MAX_NOTE,
    }
