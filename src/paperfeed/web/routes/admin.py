"""Admin pages: `/admin/search`, the state of the search indexes and the transformer backfill."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.errors import Forbidden
from paperfeed.models import User
from paperfeed.search.results import IndexStatus
from paperfeed.web.deps import OptionalSearchDep, OptionalUser
from paperfeed.web.templating import render

router = APIRouter()


def _admin(user: User) -> User:
    if user.role != "admin":
        raise Forbidden("the search status page is for admins")
    return user


@router.get("/admin/search", response_class=HTMLResponse, include_in_schema=False)
def search_status_page(request: Request, user: OptionalUser, search: OptionalSearchDep) -> Response:
    """Each index's progress: keyword, static vectors, and the transformer backfill with its
    rate and ETA (admins; the page reloads itself while the backfill runs)."""
    if user is None:
        return RedirectResponse("/signin?next=/admin/search", status_code=303)
    _admin(user)
    status: IndexStatus | None = search.status() if search is not None else None
    return render(request, "admin_search.html", {"status": status})
