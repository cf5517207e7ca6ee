"""The JSON the API answers, as pydantic models: they document `/openapi.json` (papers, daily
items, comments, errors) and schemathesis checks every answer against them.

The routes build these shapes with `paperfeed.models.paper_json`/`daily_json`/`comment_json`;
the models allow extra fields (Hugging Face adds fields over time; clients ignore unknown
ones), so they describe without cutting anything out.
"""

from __future__ import annotations

from typing import Any

from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Error(BaseModel):
    """Every error under /api: 400 bad input, 401 sign in, 403, 404, 409, 429, 503."""

    error: str = Field(description="What is wrong, in one sentence.")
    status: int = Field(description="The HTTP status, repeated.")


class Author(_Open):
    name: str


class Submitter(_Open):
    """Who put the paper on the daily list (HF user object)."""

    id: str = Field(alias="_id")
    name: str = Field(description="Username.")
    user: str = Field(description="Username (what huggingface_hub reads).")
    fullname: str
    avatarUrl: str
    type: str = "user"


class Paper(_Open):
    id: str = Field(description="arXiv id without version.")
    title: str
    summary: str = Field(description="The abstract; paragraphs separated by a blank line.")
    authors: list[Author]
    publishedAt: str | None = Field(description="arXiv v1 date (ISO-8601).")
    updatedAt: str | None
    upvotes: int
    numComments: int
    githubRepo: str | None
    projectPage: str | None
    categories: list[str]
    primaryCategory: str | None
    version: int
    comment: str | None
    journalRef: str | None
    doi: str | None


class PaperInfo(Paper):
    """`GET /api/papers/{id}`."""

    submittedOnDailyAt: str | None
    submittedOnDailyBy: Submitter | None


class DailyPaper(Paper):
    submittedOnDailyAt: str | None
    submittedOnDailyBy: Submitter | None


class DailyItem(_Open):
    """An item of `/api/daily_papers`, `/api/trending` and `/api/papers/search`."""

    paper: DailyPaper
    title: str
    summary: str
    publishedAt: str | None = Field(description="When the paper was put on the daily list.")
    submittedOnDailyAt: str | None
    submittedBy: Submitter | None
    numComments: int
    date: str | None = Field(description="Day of the daily list (YYYY-MM-DD).")
    trendingScore: float | None = None
    trendingExplanation: str | None = None


class CommentAuthor(_Open):
    name: str


class Comment(_Open):
    id: str
    paperId: str
    author: CommentAuthor
    content: str
    createdAt: str | None


FEED_TYPES = {
    "application/rss+xml": {"schema": {"type": "string"}},
    "application/atom+xml": {"schema": {"type": "string"}},
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the errors an operation can answer."""
    return {s: {"model": Error, "description": "Error"} for s in statuses}


_FORBIDDEN_PATHS = ("/curate", "/curation/", "/digest/preview")


def _signed_in_endpoints() -> set[str]:
    """Names of the route functions that take a signed-in user (`CurrentUser`)."""
    import inspect
    import typing

    from paperfeed.web.deps import current_user
    from paperfeed.web.routes import accounts, api, curation, library, recommend, subscriptions

    names = set()
    for module in (api, accounts, curation, library, recommend, subscriptions):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            try:
                hints = typing.get_type_hints(fn, include_extras=True)
            except Exception:  # noqa: BLE001 (a helper with unresolvable hints: not a route)
                continue
            for hint in hints.values():
                for extra in getattr(hint, "__metadata__", ()):
                    if getattr(extra, "dependency", None) is current_user:
                        names.add(name)
    return names


def truthful_openapi(app: Any) -> dict[str, Any]:
    """FastAPI's schema with errors as they are answered: 400 `{"error","status"}` (never
    422), and feeds as RSS/Atom XML."""
    if app.openapi_schema:
        return dict(app.openapi_schema)
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = Error.model_json_schema()
    for name in ("ValidationError", "HTTPValidationError"):
        schemas.pop(name, None)
    signed_in = _signed_in_endpoints()
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if any(operation.get("operationId", "").startswith(f"{n}_") for n in signed_in):
                responses.setdefault("401", {"description": "Sign in first"})
            if "{" in path:  # an unknown id in the path
                responses.setdefault("404", {"description": "Not found"})
            if any(word in path for word in _FORBIDDEN_PATHS):
                responses.setdefault("403", {"description": "Not allowed for this account"})
            if responses.pop("422", None) is not None or operation.get("parameters"):
                responses.setdefault("400", {"description": "Invalid input"})
            ok = responses.get("200")
            if path.startswith("/feeds/"):
                ok = responses.setdefault("200", {"description": "The feed"})
                ok["content"] = dict(FEED_TYPES)
            for status, answer in responses.items():
                if status[0] not in "45":
                    continue
                if path.startswith("/api/"):
                    answer["content"] = {"application/json": {"schema": _ERROR_REF}}
                elif path.startswith("/feeds/"):
                    answer["content"] = {"text/plain": {"schema": {"type": "string"}}}
                else:
                    answer["content"] = {"text/html": {"schema": {"type": "string"}}}
    app.openapi_schema = schema
    return schema
