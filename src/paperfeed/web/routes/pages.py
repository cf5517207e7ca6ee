"""Server-rendered pages: daily papers, trending, search, paper page, submit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from paperfeed import accounts, daily, export, library, thumbnails
from paperfeed.errors import BadRequest, Conflict, NotFound, PaperfeedError, ServiceUnavailable
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.trending import GRAVITY, trending
from paperfeed.web import pagecache, searching
from paperfeed.web.deps import (
    CommentId,
    OptionalSearchDep,
    OptionalUser,
    SettingsDep,
    StoreDep,
    canonical_id,
    get_paper_or_404,
    rate_limited,
    sign_in_redirect,
    voted_ids,
)
from paperfeed.web.security import safe_next
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
LAST_PAGE = 1000  # of a daily list (p counts from 0)
SEARCH_PAGE = 20
SEARCH_LAST_PAGE = 9  # 200 results at most: a "More" link stops there


def period_link(period: daily.Period) -> str:
    if period.kind == "day":
        return f"/?date={period.start.isoformat()}"
    return f"/?view={period.kind}&date={period.start.isoformat()}"


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    store: StoreDep,
    user: OptionalUser,
    date: Annotated[str | None, Query(max_length=10)] = None,
    view: Literal["day", "week", "month"] = "day",
    p: Annotated[int, Query(ge=0, le=LAST_PAGE)] = 0,
) -> Response:
    """Daily papers for a day, week or month (default: the latest day with papers)."""
    chosen = daily.parse_period(day=date)
    if chosen is not None and view != "day":
        make = daily.week_period if view == "week" else daily.month_period
        chosen = make(chosen.start)
    period = daily.period_or_latest(store, chosen, view)
    ranked, total = daily.daily_page(store, period, limit=PAGE_SIZE, offset=p * PAGE_SIZE)
    items = [r.item for r in ranked]
    prev, nxt = daily.neighbours(store, period)
    return render(
        request,
        "daily.html",
        {
            "period": period,
            "items": items,
            "total": total,
            "page": p,
            "more": (p + 1) * PAGE_SIZE < total and p < LAST_PAGE,
            "prev": prev,
            "next": nxt,
            "link": period_link,
            "voted": voted_ids(store, user, items),
        },
        public=True,
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    """The site icon (SVG) for browsers that ask for /favicon.ico."""
    svg = (Path(__file__).parent.parent / "static" / "favicon.svg").read_bytes()
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/trending", response_class=HTMLResponse)
def trending_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    """Papers ranked by upvotes with recency decay; each rank explains its score on hover."""
    ranked = trending(store, limit=50)
    return render(
        request,
        "trending.html",
        {
            "ranked": ranked,
            "gravity": GRAVITY,
            "voted": voted_ids(store, user, [t.item for t in ranked]),
        },
        public=True,
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    store: StoreDep,
    search: OptionalSearchDep,
    user: OptionalUser,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    has_code: bool = False,
    sort: str | None = None,
    p: Annotated[int, Query(ge=0, le=SEARCH_LAST_PAGE)] = 0,
) -> Response:
    """Search box, then title + abstract per result with the query's words marked."""
    form = searching.make_form(
        q, since=since, until=until, category=category, has_code=has_code, sort=sort
    )
    results: list[searching.Result] = []
    more = False
    found = searching.Found([])
    filtered_out = False  # the query matches papers, but the filters removed them all
    if form.q:
        if search is None:
            raise ServiceUnavailable("search is not available on this instance yet")
        # the change sequence the searches key their rankings on: one read per page (the
        # page cache's, made before rendering, where it read one)
        seq = pagecache.change_seq(request)
        seq = store.last_seq() if seq is None else seq
        found = searching.find(store, search, form, limit=(p + 1) * SEARCH_PAGE + 1, seq=seq)
        more = len(found.results) > (p + 1) * SEARCH_PAGE and p < SEARCH_LAST_PAGE
        results = found.results[p * SEARCH_PAGE : (p + 1) * SEARCH_PAGE]
        filtered = bool(form.since or form.until or form.category or form.has_code)
        if not found.results and filtered:
            unfiltered = searching.make_form(q, sort=sort)
            retry = searching.find(store, search, unfiltered, limit=1, seq=seq)
            filtered_out = bool(retry.results)
    return render(
        request,
        "search.html",
        {
            "q": form.q,
            "filters": form,
            "sort": form.sort,
            "results": results,
            "page": p,
            "more": more,
            "first_rank": p * SEARCH_PAGE,
            "terms": found.terms or searching.highlight_terms(form.q),
            "close": found.close,
            "total": found.total,
            "filtered_out": filtered_out,
            "export_query": searching.export_query(form),
            "voted": voted_ids(store, user, [r.item for r in results]),
        },
        public=True,
    )


@router.get("/papers/{paper_id:path}.md")
def paper_markdown(paper_id: str, store: StoreDep, settings: SettingsDep) -> PlainTextResponse:
    """The paper as Markdown."""
    item = get_paper_or_404(store, paper_id)
    return PlainTextResponse(
        export.markdown(item, settings.base_url), media_type="text/markdown; charset=utf-8"
    )


@router.get("/papers/{paper_id:path}/thumbnail.svg")
def paper_thumbnail(paper_id: str, store: StoreDep) -> Response:
    """A deterministic placeholder picture: primary category and first words of the title."""
    item = get_paper_or_404(store, paper_id)
    return Response(
        thumbnails.placeholder_svg(item.paper),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.post("/papers/{paper_id:path}/upvote", dependencies=[rate_limited("upvote")])
def upvote_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    action: Annotated[Literal["add", "remove"], Form()] = "add",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    target = safe_next(next, f"/papers/{paper_id}")
    if user is None:
        return sign_in_redirect(target)
    accounts.set_upvote(store, user, canonical_id(store, paper_id), upvoted=action == "add")
    return RedirectResponse(target, status_code=303)


@router.post("/papers/{paper_id:path}/comments/{comment_id}/delete")
def delete_comment_form(
    paper_id: str, comment_id: CommentId, store: StoreDep, user: OptionalUser
) -> Response:
    if user is None:
        return sign_in_redirect(f"/papers/{paper_id}")
    accounts.delete_comment(store, user, comment_id, missing_ok=True)
    return RedirectResponse(f"/papers/{paper_id}#comments", status_code=303)


@router.post("/papers/{paper_id:path}/comments", dependencies=[rate_limited("comment")])
def comment_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    # every line break may come as CR LF: the limit is checked on the text itself
    body: Annotated[str, Form(max_length=2 * accounts.MAX_COMMENT)],
) -> Response:
    if user is None:
        return sign_in_redirect(f"/papers/{paper_id}")
    comment = accounts.add_comment(store, user, canonical_id(store, paper_id), body)
    return RedirectResponse(f"/papers/{paper_id}#comment-{comment.id}", status_code=303)


@router.post("/papers/{paper_id:path}/curate")
def curate_form(
    paper_id: str,
    store: StoreDep,
    user: OptionalUser,
    action: Annotated[Literal["pin", "unpin", "remove"], Form()],
) -> Response:
    if user is None:
        return sign_in_redirect(f"/papers/{paper_id}")
    daily.curate(store, user, canonical_id(store, paper_id), action, missing_ok=True)
    return RedirectResponse(f"/papers/{paper_id}", status_code=303)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    paper_id: str,
    store: StoreDep,
    search: OptionalSearchDep,
    user: OptionalUser,
) -> Response:
    """Title, authors, abstract (LaTeX by KaTeX), links, upvote, comments, similar, BibTeX."""
    item = get_paper_or_404(store, paper_id)
    paper_id = item.paper.id  # a versioned id (2501.19393v2) shows the paper itself
    try:
        similar = searching.similar_papers(store, search, paper_id, limit=6)
    except PaperfeedError:
        similar = []
    return render(
        request,
        "paper.html",
        {
            "item": item,
            "voted": bool(voted_ids(store, user, [item])),
            "comments": store.list_comments(paper_id),
            "similar": similar,
            "bibtex": export.bibtex(item),
            **library.reader_state(store, user, item.paper.id),
        },
        public=True,
    )


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request, user: OptionalUser, settings: SettingsDep) -> Response:
    return render(request, "submit.html", {"online": settings.online})


@router.post("/submit", dependencies=[rate_limited("submit")])
def submit_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    arxiv_id: Annotated[str, Form(max_length=100)],
) -> Response:
    if user is None:
        return sign_in_redirect("/submit")
    try:
        item = daily.submit_paper(store, settings, user, arxiv_id)
    except (BadRequest, Conflict, NotFound) as exc:
        return render(
            request,
            "submit.html",
            {"online": settings.online, "error": exc.message, "arxiv_id": arxiv_id},
            exc.status_code,
        )
    return RedirectResponse(f"/papers/{item.paper.id}", status_code=303)
