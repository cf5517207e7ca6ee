"""The curation queue for curators: `/curation` (page) and `GET /api/curation/queue`."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as Date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import curation, daily
from paperfeed.dates import parse_day
from paperfeed.errors import Forbidden
from paperfeed.models import User, paper_json
from paperfeed.web.deps import CurrentUser, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.templating import render

router = APIRouter()
QueueLimit = Annotated[int, Query(ge=1, le=200)]


def _day(value: str | None) -> Date | None:
    return parse_day(value) if value else None  # exactly YYYY-MM-DD, as everywhere else


def _curator(user: User) -> User:
    if not user.can_curate:
        raise Forbidden("the curation queue is for curators and admins")
    return user


@router.get("/api/curation/queue", tags=["curation"])
def queue_api(
    store: StoreDep,
    settings: SettingsDep,
    user: CurrentUser,
    date: Annotated[str | None, Query(max_length=10)] = None,
    limit: QueueLimit = 50,
) -> list[dict[str, Any]]:
    """A day's newly announced papers from the followed categories, best first, each with the
    `reason` for its rank (curators; default day: the newest announce)."""
    _curator(user)
    day, queue = curation.curation_queue(store, settings, _day(date), limit=limit)
    return [
        {
            "paper": paper_json(q.item),
            "date": day.isoformat(),
            "rank": n,
            "score": round(q.ranked.score, 6),
            "reason": q.ranked.reason,
            "reasons": q.ranked.reasons,
            "parts": {k: round(v, 6) for k, v in q.ranked.parts.items()},
        }
        for n, q in enumerate(queue, start=1)
    ]


@router.get("/curation", response_class=HTMLResponse, include_in_schema=False)
def queue_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    date: Annotated[str | None, Query(max_length=10)] = None,
    listed: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The queue as a page: one click ("List") puts a paper on today's daily list."""
    if user is None:
        return RedirectResponse("/signin?next=/curation", status_code=303)
    _curator(user)
    day, queue = curation.curation_queue(store, settings, _day(date), limit=100)
    listed_item = store.get_paper(listed) if listed else None
    return render(
        request,
        "curation.html",
        {
            "day": day,
            "queue": queue,
            "listed": listed_item if listed_item and listed_item.daily_day else None,
            "today": datetime.now(UTC).date(),
            "followed": sorted(curation.followed_categories(store, settings)),
            "auto_list": settings.curation_auto_list,
        },
    )


@router.post("/curation/list", include_in_schema=False)
def list_from_queue(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    paper_id: Annotated[str, Form(max_length=40)],
    date: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    if user is None:
        return RedirectResponse("/signin?next=/curation", status_code=303)
    _curator(user)
    day = _day(date)  # every input is checked before the paper is listed
    # sent twice (a double click): the paper is already listed, land where the first did
    item = daily.submit_paper(store, settings, user, paper_id, listed_ok=True)
    back = f"/curation?listed={item.paper.id}" + (f"&date={day}" if day else "")
    return RedirectResponse(back, status_code=303)
