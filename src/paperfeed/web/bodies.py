"""Request bodies read by hand (routes that take JSON or a form), and validation messages.

FastAPI validates declared bodies itself; a route that reads `request.body()` uses
`parse_body` so that bad JSON, a JSON value of the wrong type or a failed field check is the
same 400 `{"error", "status"}` answer as everywhere else, never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from paperfeed.errors import BadRequest

M = TypeVar("M", bound=BaseModel)
_HIDDEN_LOC = ("query", "body", "path", "header", "cookie")


def errors_message(errors: Sequence[Any], *, located: bool = True) -> str:
    """`invalid request: field: problem; ...` from pydantic/FastAPI error dicts (first five).

    `located`: each error's `loc` starts with where FastAPI found the value (query, body...).
    """
    parts = []
    for err in list(errors)[:5]:
        loc = list(err.get("loc", ()))
        if (
            located and loc and loc[0] in _HIDDEN_LOC
        ):  # where FastAPI found it: query string, body, ...
            loc = loc[1:]
        where = ".".join(str(x) for x in loc)
        msg = err.get("msg", "invalid")
        parts.append(f"{where}: {msg}" if where else msg)
    return "invalid request: " + "; ".join(parts)


def parse_body(model: type[M], raw: bytes) -> M:
    """`raw` JSON validated as `model`; BadRequest (400) when it is not."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid request: the body is not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid request: the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(errors_message(exc.errors(), located=False)) from None
