"""The JSON API, in the shapes of the Hugging Face Papers API (`huggingface_hub` works)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import URL

from paperfeed import accounts, daily, export
from paperfeed.errors import NotFound, ServiceUnavailable
from paperfeed.models import (
    StoredPaper,
    comment_json,
    daily_json,
    iso,
    listed_at,
    paper_json,
    submitter_json,
)
from paperfeed.search import MAX_QUERY_CHARS
from paperfeed.trending import trending
from paperfeed.web import searching
from paperfeed.web.deps import (
    CommentId,
    CurrentUser,
    OptionalSearchDep,
    SettingsDep,
    StoreDep,
    canonical_id,
    get_paper_or_404,
    rate_limited,
)
from paperfeed.web.schemas import Comment, DailyItem, Paper, PaperInfo, error_responses

router = APIRouter(prefix="/api", tags=["papers"])
MAX_LIMIT = 100
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"At most {MAX_LIMIT}.")]


def paper_info_json(item: StoredPaper) -> dict[str, Any]:
    """`GET /api/papers/{id}`: the paper plus its daily-list submission."""
    return {
        **paper_json(item),
        "submittedOnDailyAt": iso(listed_at(item)) if item.daily_day else None,
        "submittedOnDailyBy": submitter_json(item),
    }


def ranked_json(r: daily.RankedItem) -> dict[str, Any]:
    data = daily_json(r.item)
    if r.score is not None:
        data["trendingScore"] = round(r.score, 6)
        data["trendingExplanation"] = r.explanation
    return data


@router.get(
    "/daily_papers",
    response_model=None,
    responses={200: {"model": list[DailyItem]}, **error_responses(400)},
)
def daily_papers(
    store: StoreDep,
    date: Annotated[str | None, Query(description="YYYY-MM-DD", max_length=10)] = None,
    week: Annotated[str | None, Query(description="YYYY-Www", max_length=8)] = None,
    month: Annotated[str | None, Query(description="YYYY-MM", max_length=7)] = None,
    p: Annotated[int, Query(ge=0, le=10_000, description="Page number, from 0.")] = 0,
    limit: Limit = 50,
    sort: daily.DailySort = "upvotes",
    submitter: Annotated[
        str | None, Query(max_length=100, description="Only papers submitted by this username.")
    ] = None,
) -> list[dict[str, Any]]:
    """The daily list for a day, ISO week or month (default: the latest day with papers;
    with `submitter` and no period: that user's submissions of every day).

    `sort=trending` adds `trendingScore` and `trendingExplanation` to each item.
    """
    submitter = submitter or None  # `submitter=` is no filter, as an empty `date=` is none
    named = daily.parse_period(day=date, week=week, month=month)
    if named is None and submitter:
        named = daily.all_days()
    period = daily.period_or_latest(store, named)
    ranked, _ = daily.daily_page(
        store, period, sort=sort, limit=limit, offset=p * limit, submitter=submitter
    )
    return [ranked_json(r) for r in ranked]


@router.get(
    "/trending",
    response_model=None,
    responses={200: {"model": list[DailyItem]}, **error_responses(400)},
)
def trending_papers(store: StoreDep, limit: Limit = 50) -> list[dict[str, Any]]:
    """Trending papers of the last week, best first, with the score's arithmetic."""
    return [
        {
            **daily_json(t.item),
            "trendingScore": round(t.score, 6),
            "trendingExplanation": t.explain(),
        }
        for t in trending(store, limit=limit)
    ]


@router.get(
    "/papers/search",
    response_model=None,
    responses={200: {"model": list[DailyItem]}, **error_responses(400, 503)},
)
def search_papers(
    store: StoreDep,
    search: OptionalSearchDep,
    q: Annotated[
        str | None, Query(max_length=MAX_QUERY_CHARS, description="Empty: the newest papers.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, description=f"At most this many; more than {MAX_LIMIT} gives {MAX_LIMIT}.")
    ] = 50,
) -> list[dict[str, Any]]:
    """Papers matching `q`, best first; without `q` the newest papers, as Hugging Face's
    `/api/papers/search` answers `HfApi.list_papers()`.

    A `limit` above the maximum is a cap, not an error: Hugging Face's search answers a
    capped list, and `HfApi.list_papers(limit=...)` documents it as "the maximum number of
    papers to return", so a client written against Hugging Face gets papers, not a 400."""
    limit = min(limit, MAX_LIMIT)
    form = searching.make_form(q)
    if not form.q:
        return [daily_json(item) for item in store.newest_papers(limit=limit)]
    if search is None:
        raise ServiceUnavailable("search is not available on this instance yet")
    return [daily_json(r.item) for r in searching.search_papers(store, search, form, limit=limit)]


@router.get(
    "/papers", response_model=None, responses={200: {"model": list[Paper]}, **error_responses(400)}
)
def list_papers(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=64, description="Last id seen.")] = None,
    limit: Limit = 50,
) -> Response:
    """All papers by id; the `Link: <...>; rel="next"` header carries the next cursor (under
    PAPERFEED_BASE_URL when set: behind a reverse proxy the request's own URL is not the
    public one)."""
    items = store.list_papers(after_id=cursor, limit=limit)
    response = JSONResponse([paper_json(i) for i in items])
    if len(items) == limit:
        nxt = request.url.include_query_params(cursor=items[-1].paper.id, limit=limit)
        if not settings.base_url_derived:
            nxt = URL(settings.base_url.rstrip("/") + "/api/papers?" + nxt.query)
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return response


class IndexRequest(BaseModel):
    arxivId: str = Field(min_length=1, max_length=100)


@router.post(
    "/papers/index",
    status_code=201,
    response_model=None,
    responses={201: {"model": DailyItem}, **error_responses(400, 401, 404, 409, 429, 503)},
    dependencies=[rate_limited("submit")],
)
def index_paper(
    body: IndexRequest, store: StoreDep, settings: SettingsDep, user: CurrentUser
) -> dict[str, Any]:
    """Put a paper on today's daily list (signed in)."""
    return daily_json(daily.submit_paper(store, settings, user, body.arxivId))


class CurateRequest(BaseModel):
    action: Literal["pin", "unpin", "remove"]


@router.post("/papers/{paper_id:path}/curate", status_code=204)
def curate_paper(
    paper_id: str, body: CurateRequest, store: StoreDep, user: CurrentUser
) -> Response:
    """Pin, unpin or remove a daily-list paper (curators and admins)."""
    daily.curate(store, user, canonical_id(store, paper_id), body.action)
    return Response(status_code=204)


@router.post(
    "/papers/{paper_id:path}/upvote",
    responses=error_responses(429),
    dependencies=[rate_limited("upvote")],
)
def upvote(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """Upvote once; repeating it changes nothing."""
    result = accounts.set_upvote(store, user, canonical_id(store, paper_id), upvoted=True)
    return {"upvoted": result.upvoted, "upvotes": result.upvotes}


@router.delete(
    "/papers/{paper_id:path}/upvote",
    responses=error_responses(429),
    dependencies=[rate_limited("upvote")],
)
def remove_upvote(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    result = accounts.set_upvote(store, user, canonical_id(store, paper_id), upvoted=False)
    return {"upvoted": result.upvoted, "upvotes": result.upvotes}


@router.get(
    "/papers/{paper_id:path}/comments",
    response_model=None,
    responses={200: {"model": list[Comment]}, **error_responses(404)},
)
def list_comments(paper_id: str, store: StoreDep) -> list[dict[str, Any]]:
    item = get_paper_or_404(store, paper_id)
    return [comment_json(c) for c in store.list_comments(item.paper.id)]


class CommentRequest(BaseModel):
    content: str = Field(min_length=1, max_length=accounts.MAX_COMMENT)


@router.post(
    "/papers/{paper_id:path}/comments",
    status_code=201,
    response_model=None,
    responses={201: {"model": Comment}, **error_responses(400, 401, 404, 429)},
    dependencies=[rate_limited("comment")],
)
def create_comment(
    paper_id: str, body: CommentRequest, store: StoreDep, user: CurrentUser
) -> dict[str, Any]:
    paper_id = canonical_id(store, paper_id)
    return comment_json(accounts.add_comment(store, user, paper_id, body.content))


@router.delete("/papers/{paper_id:path}/comments/{comment_id}", status_code=204)
def delete_comment(
    paper_id: str, comment_id: CommentId, store: StoreDep, user: CurrentUser
) -> Response:
    comment = store.get_comment(comment_id)
    if comment is None or comment.paper_id != canonical_id(store, paper_id):
        raise NotFound(f"no comment {comment_id} on paper {paper_id}")
    accounts.delete_comment(store, user, comment_id)
    return Response(status_code=204)


@router.get(
    "/papers/{paper_id:path}/bibtex",
    response_class=Response,
    responses={
        200: {"content": {"application/x-bibtex": {"schema": {"type": "string"}}}},
        **error_responses(404),
    },
)
def bibtex(paper_id: str, store: StoreDep) -> PlainTextResponse:
    """A BibTeX @misc entry for the paper."""
    item = get_paper_or_404(store, paper_id)
    return PlainTextResponse(export.bibtex(item), media_type="application/x-bibtex; charset=utf-8")


@router.get(
    "/papers/{paper_id:path}",
    response_model=None,
    responses={200: {"model": PaperInfo}, **error_responses(404)},
)
def paper_info(paper_id: str, store: StoreDep) -> dict[str, Any]:
    """One paper (HF `/api/papers/{id}` shape)."""
    return paper_info_json(get_paper_or_404(store, paper_id))
