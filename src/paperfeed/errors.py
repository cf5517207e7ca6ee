"""One family of exceptions, each carrying the HTTP status it maps to.

The web layer turns them into JSON (API) or an HTML page (browser); the CLI turns them into a
one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations


class PaperfeedError(Exception):
    """Base class: a problem the user can understand and act on."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that go with this error's answer."""
        return {}


class BadRequest(PaperfeedError):
    """The input is invalid (bad date, bad limit, empty query, unknown format...)."""

    status_code = 400


class Unauthorized(PaperfeedError):
    """Not signed in: a session cookie or `Authorization: Bearer <token>` is needed."""

    status_code = 401

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="paperfeed"'}  # RFC 9110 11.6.1: a 401 has one


class Forbidden(PaperfeedError):
    status_code = 403


class NotFound(PaperfeedError):
    status_code = 404


class Conflict(PaperfeedError):
    status_code = 409


class TooManyRequests(PaperfeedError):
    """A throttle refused the request; `retry_after` (seconds) becomes `Retry-After`."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int = 900) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UnknownFormat(BadRequest):
    """An input file or URL is not in any format paperfeed can import."""


class ServiceUnavailable(PaperfeedError):
    status_code = 503


class DatabaseUnavailable(ServiceUnavailable):
    """The store's database server cannot be reached (stopped, restarting, network): long
    jobs wait for it to come back."""


class StorageError(ServiceUnavailable):
    """The data directory cannot be written (read-only, no permission, disk full...).

    The message says what failed, where, and what to do; nothing already stored is lost.
    """


class SchemaTooNew(ServiceUnavailable):
    """The database was migrated by a newer paperfeed than this one: every command refuses
    it (before writing anything) rather than run on a schema it does not know."""

    def __init__(self, applied: int, known: int) -> None:
        super().__init__(
            f"the database schema is at migration {applied}, newer than this paperfeed "
            f"knows ({known}): upgrade paperfeed on this machine"
        )
        self.applied = applied
        self.known = known


class ConfigError(PaperfeedError, ValueError):
    """The instance is misconfigured (a `PAPERFEED_*` setting): refused at start-up.

    Also a ValueError, so that a settings validator raising it reads as a validation error.
    """

    status_code = 500
