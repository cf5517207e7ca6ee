""" "For you", "not interested", the followed feed, and "more like this collection"."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import library
from paperfeed.dates import parse_day
from paperfeed.errors import NotFound
from paperfeed.models import daily_json
from paperfeed.recommend import Recommendation, default_since
from paperfeed.web.deps import (
    CollectionId,
    CurrentUser,
    OptionalUser,
    RecommenderDep,
    StoreDep,
    sign_in_redirect,
    voted_ids,
)
from paperfeed.web.security import safe_next
from paperfeed.web.templating import render

router = APIRouter(tags=["for you"])
Since = Annotated[
    str | None, Query(description="YYYY-MM-DD (default: 30 days back)", max_length=10)
]
Limit = Annotated[int, Query(ge=1, le=100)]


def parse_since(text: str | None) -> date | None:
    return parse_day(text, "since") if text else None


def recommendation_json(r: Recommendation) -> dict[str, Any]:
    return {**daily_json(r.item), "score": round(r.score, 6), "reason": r.reason.to_json()}


UPDATING_HEADER = "X-Recommendations-Updating"


@router.get("/api/recommendations")
def api_recommendations(
    response: Response,
    user: CurrentUser,
    rec: RecommenderDep,
    limit: Limit = 20,
    since: Since = None,
) -> list[dict[str, Any]]:
    """Recent papers ranked for the signed-in reader, each with a checkable `reason`
    (`text`, the ids of the `closest` papers they kept, and the shared `terms`).

    Never waits for the reader's model to be retrained: while it is, the previous list is
    answered (less papers dismissed or kept since) with the header
    `X-Recommendations-Updating: true`."""
    ranked, updating = rec.recommend_now(user, limit=limit, since=parse_since(since))
    if updating:
        response.headers[UPDATING_HEADER] = "true"
    return [recommendation_json(r) for r in ranked]


@router.post("/api/recommendations/{paper_id:path}/dismiss")
def api_dismiss(paper_id: str, store: StoreDep, user: CurrentUser) -> dict[str, Any]:
    """ "Not interested": the paper leaves the list at once and counts against similar ones."""
    try:
        store.dismiss(user_id=user.id, paper_id=paper_id)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r} in this catalogue") from None
    return {"paperId": paper_id, "dismissed": True}


@router.get("/api/feed")
def api_followed_feed(
    store: StoreDep, user: CurrentUser, limit: Limit = 50, since: Since = None
) -> list[dict[str, Any]]:
    """New papers by the authors and in the categories the reader follows, newest first."""
    start = parse_since(since) or default_since(store)
    return [daily_json(i) for i in store.followed_papers(user.id, since=start, limit=limit)]


@router.get("/api/collections/{collection_id}/similar")
def api_more_like_collection(
    collection_id: CollectionId,
    store: StoreDep,
    user: OptionalUser,
    rec: RecommenderDep,
    limit: Limit = 10,
) -> list[dict[str, Any]]:
    """Papers closest in meaning to the collection as a whole, not already in it."""
    c = library.visible_collection(store, user, collection_id)
    return [daily_json(i) for i in rec.more_like_collection(c, limit=limit)]


@router.get("/for-you", response_class=HTMLResponse, include_in_schema=False)
def for_you_page(
    request: Request, store: StoreDep, user: OptionalUser, rec: RecommenderDep
) -> Response:
    if user is None:
        return sign_in_redirect("/for-you")
    ranked, updating = rec.recommend_now(user, limit=30)
    items = [r.item for r in ranked]
    return render(
        request,
        "for_you.html",
        {
            "ranked": ranked,
            "voted": voted_ids(store, user, items),
            "cold": not any(r.reason.closest for r in ranked),
            "updating": updating,
        },
        headers={UPDATING_HEADER: "true"} if updating else None,
    )


@router.post("/for-you/dismiss", include_in_schema=False)
def dismiss_form(
    store: StoreDep,
    user: OptionalUser,
    paper_id: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    if user is None:
        return sign_in_redirect("/for-you")
    try:
        store.dismiss(user_id=user.id, paper_id=paper_id)
    except KeyError:
        raise NotFound(f"no paper {paper_id!r} in this catalogue") from None
    return RedirectResponse(safe_next(next, "/for-you"), status_code=303)


@router.get("/feed", response_class=HTMLResponse, include_in_schema=False)
def followed_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    if user is None:
        return sign_in_redirect("/feed")
    items = store.followed_papers(user.id, since=default_since(store), limit=50)
    return render(
        request,
        "followed.html",
        {
            "items": items,
            "follows": store.list_follows(user.id),
            "voted": voted_ids(store, user, items),
        },
    )
