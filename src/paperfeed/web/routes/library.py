"""A reader's library over HTTP: collections, read marks, notes, follows and exports.

The JSON API (`/api/collections`, `/api/follows`, `/api/papers/{id}/read|note`,
`/api/export/...`) takes a session cookie or a Bearer token from `POST /api/session`; the
HTML forms post back here and redirect. Private collections answer 404 to everyone else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, model_validator

from paperfeed import daily, export, library
from paperfeed.errors import NotFound
from paperfeed.models import Collection, StoredPaper, collection_json, daily_json, iso
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.web import searching
from paperfeed.web.deps import (
    CollectionId,
    CurrentUser,
    OptionalUser,
    SearchDep,
    SettingsDep,
    StoreDep,
    canonical_id,
    get_paper_or_404,
    get_recommender,
    sign_in_redirect,
    voted_ids,
)
from paperfeed.web.feeds import build_feed
from paperfeed.web.security import safe_next
from paperfeed.web.templating import render

router = APIRouter(tags=["library"])
PAGE_SIZE = 50
EXPORT_LIMIT = 1000
ExportFormat = Annotated[
    Literal["bibtex", "ris", "csv"], Query(alias="format", description="bibtex, ris or csv")
]


def download(items: list[StoredPaper], fmt: str, name: str) -> Response:
    out = export.export_file(items, fmt, name)
    return Response(
        out.body,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"'},
    )


# -- API: collections ------------------------------------------------------------------------


class NewCollection(BaseModel):
    name: str = Field(min_length=1, max_length=1000)
    public: bool = False


class CollectionChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    public: bool | None = None


class PaperRef(BaseModel):
    arxivId: str = Field(min_length=1, max_length=100)


@router.post("/api/collections", status_code=201)
def api_create_collection(
    body: NewCollection, store: StoreDep, user: CurrentUser
) -> dict[str, Any]:
    """Make a collection (`public` ones get a shareable page and RSS feed)."""
    return collection_json(library.create_collection(store, user, body.name, public=body.public))


@router.get("/api/collections")
def api_list_collections(store: StoreDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The signed-in reader's collections."""
    return [collection_json(c) for c in store.list_collections(user.id)]


@router.get("/api/collections/{collection_id}")
def api_get_collection(
    collection_id: CollectionId,
    store: StoreDep,
    user: OptionalUser,
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """A collection and one page of its papers, most recently saved first."""
    c = library.visible_collection(store, user, collection_id)
    items = library.collection_items(store, c, limit=limit, offset=p * limit)
    return {**collection_json(c), "papers": [daily_json(i) for i in items]}


@router.patch("/api/collections/{collection_id}")
def api_update_collection(
    collection_id: CollectionId, body: CollectionChange, store: StoreDep, user: CurrentUser
) -> dict[str, Any]:
    """Rename a collection or make it public/private."""
    return collection_json(
        library.update_collection(store, user, collection_id, name=body.name, public=body.public)
    )


@router.delete("/api/collections/{collection_id}", status_code=204)
def api_delete_collection(
    collection_id: CollectionId, store: StoreDep, user: CurrentUser
) -> Response:
    library.delete_collection(store, user, collection_id)
    return Response(status_code=204)


@router.post("/api/collections/{collection_id}/papers", status_code=201)
def api_save_paper(
    collection_id: CollectionId, body: PaperRef, store: StoreDep, user: CurrentUser
) -> dict[str, Any]:
    """Save a paper into the collection (saving it twice changes nothing)."""
    added = library.save_paper(store, user, collection_id, body.arxivId)
    c = library.visible_collection(store, user, collection_id)
    return {**collection_json(c), "added": added, "arxivId": body.arxivId.strip()}


@router.delete("/api/collections/{collection_id}/papers/{paper_id:path}", status_code=204)
def api_unsave_paper(
    collection_id: CollectionId, paper_id: str, store: StoreDep, user: CurrentUser
) -> Response:
    library.unsave_paper(store, user, collection_id, paper_id)
    return Response(status_code=204)


@router.get("/api/collections/{collection_id}/export", response_class=Response)
def api_export_collection(
    collection_id: CollectionId, store: StoreDep, user: OptionalUser, fmt: ExportFormat = "bibtex"
) -> Response:
    """The whole collection as a BibTeX, RIS or CSV file."""
    c = library.visible_collection(store, user, collection_id)
    return download(library.all_items(store, c), fmt, c.name)


# -- API: exports of a search or the daily list ------------------------------------------------


@router.get("/api/export/search", response_class=Response)
def api_export_search(
    store: StoreDep,
    search: SearchDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    fmt: ExportFormat = "bibtex",
    limit: Annotated[int, Query(ge=1, le=EXPORT_LIMIT)] = 100,
    since: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    has_code: bool = False,
    sort: str | None = None,
) -> Response:
    """The results of a search, best first, as a file (the search page's filters apply)."""
    form = searching.make_form(
        q, since=since, until=until, category=category, has_code=has_code, sort=sort
    )
    items = [r.item for r in searching.search_papers(store, search, form, limit=limit)]
    return download(items, fmt, f"search-{form.q}")


@router.get("/api/export/daily", response_class=Response)
def api_export_daily(
    store: StoreDep,
    fmt: ExportFormat = "bibtex",
    date: Annotated[str | None, Query(description="YYYY-MM-DD", max_length=10)] = None,
    week: Annotated[str | None, Query(description="YYYY-Www", max_length=8)] = None,
    month: Annotated[str | None, Query(description="YYYY-MM", max_length=7)] = None,
) -> Response:
    """The daily list of a day, week or month (default: the latest day) as a file."""
    period = daily.period_or_latest(store, daily.parse_period(day=date, week=week, month=month))
    ranked, _ = daily.daily_page(store, period, limit=EXPORT_LIMIT)
    return download([r.item for r in ranked], fmt, f"daily-{period.key}")


# -- API: read marks and notes -----------------------------------------------------------------


class NoteBody(BaseModel):
    content: str = Field(max_length=library.MAX_NOTE + 1000)


def note_json(paper_id: str, body: str, updated: Any) -> dict[str, Any]:
    return {"paperId": paper_id, "content": body, "updatedAt": iso(updated)}


@router.put("/api/papers/{paper_id:path}/read")
def api_mark_read(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """Mark a paper read (a signal for "for you")."""
    library.mark_read(store, user, paper_id, read=True)
    return {"paperId": paper_id, "read": True}


@router.delete("/api/papers/{paper_id:path}/read")
def api_mark_unread(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    library.mark_read(store, user, paper_id, read=False)
    return {"paperId": paper_id, "read": False}


@router.get("/api/papers/{paper_id:path}/note")
def api_get_note(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """The reader's private note on the paper (only they can read it)."""
    get_paper_or_404(store, paper_id)
    note = store.get_note(user_id=user.id, paper_id=paper_id)
    if note is None:
        raise NotFound(f"no note on {paper_id}")
    return note_json(paper_id, note.body, note.updated_at)


@router.put("/api/papers/{paper_id:path}/note")
def api_put_note(
    paper_id: str, body: NoteBody, store: StoreDep, user: CurrentUser
) -> dict[str, Any]:
    """Write the private note (an empty one deletes it)."""
    note = library.set_note(store, user, paper_id, body.content)
    return note_json(paper_id, note.body if note else "", note.updated_at if note else None)


@router.delete("/api/papers/{paper_id:path}/note", status_code=204)
def api_delete_note(paper_id: str, store: StoreDep, user: CurrentUser) -> Response:
    library.set_note(store, user, paper_id, "")
    return Response(status_code=204)


@router.get("/api/papers/{paper_id:path}/library")
def api_paper_library(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """The reader's own state for a paper: read, note, which collections hold it."""
    get_paper_or_404(store, paper_id)
    note = store.get_note(user_id=user.id, paper_id=paper_id)
    return {
        "paperId": paper_id,
        "read": bool(store.read_papers(user.id, [paper_id])),
        "note": note.body if note else None,
        "collections": store.collections_with_paper(user.id, paper_id),
    }


# -- API: follows ------------------------------------------------------------------------------


class FollowBody(BaseModel):
    author: str | None = Field(default=None, max_length=1000)
    category: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> FollowBody:
        if (self.author is None) == (self.category is None):
            raise ValueError('give exactly one of "author" or "category"')
        return self

    def kind_value(self) -> tuple[str, str]:
        return (
            ("author", self.author)
            if self.author is not None
            else ("category", self.category or "")
        )


@router.get("/api/follows")
def api_list_follows(store: StoreDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The authors and categories the reader follows."""
    return [{f.kind: f.value, "createdAt": iso(f.created_at)} for f in store.list_follows(user.id)]


@router.post("/api/follows", status_code=201)
def api_follow(body: FollowBody, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """Follow an author (`{"author": "Yann LeCun"}`) or a category (`{"category": "cs.CL"}`)."""
    f = library.follow(store, user, *body.kind_value())
    return {f.kind: f.value}


@router.delete("/api/follows", status_code=204)
def api_unfollow(body: FollowBody, store: StoreDep, user: CurrentUser) -> Response:
    library.unfollow(store, user, *body.kind_value())
    return Response(status_code=204)


# -- pages ---------------------------------------------------------------------------------------


@router.get("/library", response_class=HTMLResponse, include_in_schema=False)
def library_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    """The reader's collections, follows and notes."""
    if user is None:
        return sign_in_redirect("/library")
    notes = store.list_notes(user.id, limit=50)
    noted = {i.paper.id: i for i in store.get_papers([n.paper_id for n in notes])}
    return render(
        request,
        "library.html",
        {
            "collections": store.list_collections(user.id),
            "follows": store.list_follows(user.id),
            "notes": [(n, noted[n.paper_id]) for n in notes if n.paper_id in noted],
            "max_name": library.MAX_NAME,
            "max_author": library.MAX_AUTHOR,
        },
    )


def collection_page_context(
    request: Request, store: Any, user: Any, c: Collection, page: int
) -> dict[str, Any]:
    items = library.collection_items(store, c, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    similar: list[StoredPaper] = []
    if page == 0 and c.paper_count:
        similar = get_recommender(request).more_like_collection(c, limit=6)
    return {
        "c": c,
        "items": items,
        "page": page,
        "more": (page + 1) * PAGE_SIZE < c.paper_count,
        "owner": user is not None and user.id == c.user_id,
        "voted": voted_ids(store, user, items),
        "read": store.read_papers(user.id, [i.paper.id for i in items]) if user else set(),
        "similar": similar,
        "max_name": library.MAX_NAME,
    }


@router.get("/collections/{collection_id}", response_class=HTMLResponse, include_in_schema=False)
def collection_page(
    request: Request,
    collection_id: CollectionId,
    store: StoreDep,
    user: OptionalUser,
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    c = library.visible_collection(store, user, collection_id)
    return render(request, "collection.html", collection_page_context(request, store, user, c, p))


@router.get("/collections/{collection_id}/feed.{fmt}", include_in_schema=False)
@router.get("/collections/{collection_id}/feed", include_in_schema=False)
def collection_feed(
    collection_id: CollectionId,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    fmt: Literal["xml", "atom"] = "xml",
) -> Response:
    """RSS 2.0 / Atom of a collection, newest saves first."""
    c = library.visible_collection(store, user, collection_id)
    items = library.collection_items(store, c, limit=50)
    return build_feed(
        settings,
        title=f"Collection: {c.name} ({c.owner})",
        path=f"/collections/{c.id}/feed.{fmt}",
        items=items,
        fmt=fmt,
    )


@router.post("/collections", include_in_schema=False)
def create_collection_form(
    store: StoreDep,
    user: OptionalUser,
    name: Annotated[str, Form(max_length=1000)],
    public: Annotated[bool, Form()] = False,
    paper_id: Annotated[str | None, Form(max_length=100)] = None,
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    if user is None:
        return sign_in_redirect("/library")
    if paper_id:  # an unknown paper is a 404 before anything is created
        paper_id = canonical_id(store, paper_id)
    c = library.create_collection(store, user, name, public=public)
    if paper_id:
        library.save_paper(store, user, c.id, paper_id)
        return RedirectResponse(safe_next(next, f"/papers/{paper_id}"), status_code=303)
    return RedirectResponse(f"/collections/{c.id}", status_code=303)


@router.post("/collections/{collection_id}/edit", include_in_schema=False)
def edit_collection_form(
    collection_id: CollectionId,
    store: StoreDep,
    user: OptionalUser,
    name: Annotated[str, Form(max_length=1000)],
    public: Annotated[bool, Form()] = False,
) -> Response:
    if user is None:
        return sign_in_redirect(f"/collections/{collection_id}")
    library.update_collection(store, user, collection_id, name=name, public=public)
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.post("/collections/{collection_id}/delete", include_in_schema=False)
def delete_collection_form(
    collection_id: CollectionId, store: StoreDep, user: OptionalUser
) -> Response:
    if user is None:
        return sign_in_redirect(f"/collections/{collection_id}")
    library.delete_collection(store, user, collection_id, missing_ok=True)
    return RedirectResponse("/library", status_code=303)


@router.post("/collections/{collection_id}/remove", include_in_schema=False)
def remove_paper_form(
    collection_id: CollectionId,
    store: StoreDep,
    user: OptionalUser,
    paper_id: Annotated[str, Form(max_length=100)],
) -> Response:
    if user is None:
        return sign_in_redirect(f"/collections/{collection_id}")
    library.unsave_paper(store, user, collection_id, paper_id, missing_ok=True)
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.post("/papers/{paper_id:path}/save", include_in_schema=False)
def save_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    collection_id: Annotated[int, Form(ge=1, le=2**62)],
    action: Annotated[Literal["add", "remove"], Form()] = "add",
) -> Response:
    if user is None:
        return sign_in_redirect(f"/papers/{paper_id}")
    if action == "add":
        library.save_paper(store, user, collection_id, paper_id)
    else:
        library.unsave_paper(store, user, collection_id, paper_id, missing_ok=True)
    return RedirectResponse(f"/papers/{paper_id}#library", status_code=303)


@router.post("/papers/{paper_id:path}/read", include_in_schema=False)
def read_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    action: Annotated[Literal["read", "unread"], Form()] = "read",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    target = safe_next(next, f"/papers/{paper_id}#library")
    if user is None:
        return sign_in_redirect(target)
    library.mark_read(store, user, paper_id, read=action == "read")
    return RedirectResponse(target, status_code=303)


@router.post("/papers/{paper_id:path}/note", include_in_schema=False)
def note_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    # every line break may come as CR LF: the limit is checked on the text itself
    body: Annotated[str, Form(max_length=2 * library.MAX_NOTE)] = "",
) -> Response:
    if user is None:
        return sign_in_redirect(f"/papers/{paper_id}")
    library.set_note(store, user, paper_id, body)
    return RedirectResponse(f"/papers/{paper_id}#library", status_code=303)


@router.post("/follows", include_in_schema=False)
def follow_form(
    store: StoreDep,
    user: OptionalUser,
    kind: Annotated[Literal["author", "category"], Form()],
    value: Annotated[str, Form(max_length=1000)],
    action: Annotated[Literal["follow", "unfollow"], Form()] = "follow",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    target = safe_next(next, "/library")
    if user is None:
        return sign_in_redirect(target)
    if action == "follow":
        library.follow(store, user, kind, value)
    else:
        library.unfollow(store, user, kind, value, missing_ok=True)
    return RedirectResponse(target, status_code=303)
