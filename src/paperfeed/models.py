"""The records that flow through paperfeed, and their Hugging Face-shaped JSON form.

A `Paper` is what every importer produces and what the store keeps. Field names in
`paper_json` follow `huggingface_hub`'s Papers API so that existing clients work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from paperfeed.urls import http_url


@dataclass(slots=True)
class Paper:
    """One arXiv paper, latest version only."""

    id: str  # canonical arXiv id without version: "2509.17971" or "hep-th/9901001"
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    version: int = 1
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)  # primary first, then cross-lists
    published: datetime | None = None  # v1 submission time (UTC)
    updated: datetime | None = None  # latest version time (UTC)
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    github_url: str | None = None
    project_page: str | None = None
    listing_date: date | None = None  # day the paper was first announced/seen

    @property
    def code_url(self) -> str | None:
        """`github_url` if it is safe to render as a link (http(s) only), else None."""
        return http_url(self.github_url)

    @property
    def project_url(self) -> str | None:
        """`project_page` if it is safe to render as a link (http(s) only), else None."""
        return http_url(self.project_page)

    @property
    def has_code(self) -> bool:
        return self.code_url is not None

    @property
    def day(self) -> date | None:
        """The paper's date: first submission, else the day it was announced. Search sorts
        by it (`sort=date`) and cards in search and similar lists show it."""
        return self.published.date() if self.published else self.listing_date


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the keyword index reads of a changed paper (`Store.paper_texts_since`): the
    searchable text and filter fields only, so following the change sequence is cheap."""

    seq: int
    id: str
    title: str
    abstract: str
    day: date | None  # `Paper.day`: the submission date, else the listing date
    categories: list[str]
    has_code: bool


@dataclass(slots=True)
class UpsertCounts:
    """What one import batch did to the catalogue."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@dataclass(slots=True)
class CatalogueStats:
    """Counts over the whole catalogue (`paperfeed stats`)."""

    papers: int
    daily_entries: int
    first_daily_day: date | None
    last_daily_day: date | None
    last_seq: int
    categories: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class DailyEntry:
    """A paper on the daily list for one day, with its community signals."""

    paper_id: str
    day: date
    submitted_by: str | None = None  # username
    upvotes: int = 0
    num_comments: int = 0
    submitted_at: datetime | None = None
    pinned: bool = False
    submitter_fullname: str | None = None  # display name (HF `fullname`)
    submitter_avatar: str | None = None  # http(s) URL of the avatar (HF `avatarUrl`)


@dataclass(slots=True)
class StoredPaper:
    """A paper as read back from the store, with its aggregate community signals."""

    paper: Paper
    upvotes: int = 0
    num_comments: int = 0
    daily_day: date | None = None
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    seq: int = 0  # store change sequence number of the last write to this paper
    hf_upvotes: int = 0  # part of `upvotes` imported from Hugging Face (not cast here)
    hf_comments: int = 0  # part of `num_comments` counted on Hugging Face (not shown here)
    submitter_fullname: str | None = None
    submitter_avatar: str | None = None

    @property
    def local_upvotes(self) -> int:
        """Upvotes cast on this instance."""
        return max(self.upvotes - self.hf_upvotes, 0)

    @property
    def local_comments(self) -> int:
        """Comments written on this instance (the ones the paper page shows)."""
        return max(self.num_comments - self.hf_comments, 0)


def listed_at(item: StoredPaper) -> datetime | None:
    """When the paper went on the daily list: its submission time, else its day at 00:00."""
    if item.submitted_at:
        return item.submitted_at
    if item.daily_day:
        return datetime.combine(item.daily_day, time(), tzinfo=UTC)
    return None


def iso(ts: datetime | date | None) -> str | None:
    """ISO-8601 with a trailing Z for UTC datetimes, as the HF API writes them."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        text = ts.isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z") if ts.utcoffset() is not None else text + "Z"
    return ts.isoformat()


def paper_json(item: StoredPaper) -> dict[str, Any]:
    """The paper in Hugging Face Papers API shape (`paper` object of the HF endpoints)."""
    p = item.paper
    return {
        "id": p.id,
        "title": p.title,
        "summary": p.abstract,
        "authors": [{"name": name} for name in p.authors],
        "publishedAt": iso(p.published),
        "updatedAt": iso(p.updated),
        "upvotes": item.upvotes,
        "numComments": item.num_comments,
        "githubRepo": p.code_url,
        "projectPage": p.project_url,
        "categories": p.categories,
        "primaryCategory": p.primary_category,
        "version": p.version,
        "comment": p.comment,
        "journalRef": p.journal_ref,
        "doi": p.doi,
    }


def submitter_json(item: StoredPaper) -> dict[str, Any] | None:
    """Who put the paper on the daily list, as an HF user object.

    `name`/`user` is the username (what `list_daily_papers(submitter=...)` filters on),
    `fullname` the display name; `_id` is a stable id derived from the username.
    """
    name = item.submitted_by
    if not name:
        return None
    return {
        "_id": hashlib.sha1(f"paperfeed-user:{name}".encode()).hexdigest()[:24],
        "name": name,
        "user": name,
        "fullname": item.submitter_fullname or name,
        "avatarUrl": http_url(item.submitter_avatar) or "",
        "type": "user",
    }


def daily_json(item: StoredPaper) -> dict[str, Any]:
    """A daily-list entry in the shape of HF's `/api/daily_papers` items."""
    paper = {
        **paper_json(item),
        "submittedOnDailyAt": iso(listed_at(item)),
        "submittedOnDailyBy": submitter_json(item),
    }
    return {
        "paper": paper,
        "title": paper["title"],
        "summary": paper["summary"],
        # HF: the item's own publishedAt is when it was put on the daily list
        # (huggingface_hub reads it as PaperInfo.submitted_at); the arXiv date is in `paper`.
        "publishedAt": iso(listed_at(item)),
        "submittedOnDailyAt": iso(listed_at(item)),
        "submittedBy": submitter_json(item),
        "numComments": item.num_comments,
        "date": iso(item.daily_day),
    }


Role = str  # "user" | "curator" | "admin"
ROLES = ("user", "curator", "admin")


@dataclass(slots=True)
class User:
    """An account on this instance."""

    id: int
    email: str
    name: str
    role: Role = "user"
    created_at: datetime | None = None

    @property
    def can_curate(self) -> bool:
        """Curators and admins may pin and remove papers on the daily list."""
        return self.role in ("curator", "admin")


@dataclass(slots=True)
class PendingSignup:
    """A sign-up waiting for its address to be verified (the link in the email)."""

    email: str
    name: str
    password_hash: str
    next_path: str
    expires_at: datetime


@dataclass(slots=True)
class Comment:
    """A comment on a paper page."""

    id: int
    paper_id: str
    user_id: int
    author: str
    body: str
    created_at: datetime


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment in the shape of HF's paper comments."""
    return {
        "id": str(c.id),
        "paperId": c.paper_id,
        "author": {"name": c.author},
        "content": c.body,
        "createdAt": iso(c.created_at),
    }


# --- email digests: subscribers, their saved searches, the outbox ------------------------
# The outbox holds one row per subscriber and period; its states are the exactly-once
# ledger of `paperfeed.digest.send` (see that module for the protocol).

Frequency = Literal["daily", "weekly"]
SubscriberStatus = Literal["active", "unsubscribed", "bounced"]
OutboxState = Literal["pending", "sending", "sent", "failed"]


@dataclass(slots=True)
class SavedSearch:
    """A subscriber's search whose new matches go into their digest."""

    id: int
    subscriber_id: int
    query: str
    filters: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None


@dataclass(slots=True)
class Subscriber:
    """An address that receives (or has asked to receive) digests."""

    id: int
    email: str
    frequency: Frequency = "daily"
    trending: bool = True
    user_id: int | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    status: SubscriberStatus = "active"
    status_reason: str | None = None
    last_digest_at: datetime | None = None
    searches: list[SavedSearch] = field(default_factory=list)

    @property
    def receives_mail(self) -> bool:
        return self.status == "active" and self.confirmed_at is not None


@dataclass(slots=True)
class OutboxEntry:
    """One digest of one subscriber for one period, and how far its sending got."""

    subscriber_id: int
    period: str
    state: OutboxState
    message_id: str
    paper_ids: list[str]
    attempts: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class FollowedSource:
    """An upstream the operator follows: `arxiv:<category>` or `hf-daily`."""

    name: str
    added_at: datetime | None = None


@dataclass(slots=True)
class HarvestCheckpoint:
    """Where harvesting one upstream feed stopped (`oai:<set>`, `rss:<cat>`, `hf-daily`)."""

    key: str
    state: dict[str, Any]
    updated_at: datetime | None = None
    last_error: str | None = None


JobState = Literal["queued", "running", "done", "failed"]


@dataclass(slots=True)
class Job:
    """A unit of background work for `paperfeed worker`, claimed under a lease."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any] = field(default_factory=dict)
    state: JobState = "queued"
    owner: str | None = None
    lease_until: float | None = None  # unix time
    attempts: int = 0
    last_error: str | None = None
    updated_at: float = 0.0


@dataclass(slots=True)
class Collection:
    """A reader's named list of papers; public ones have a shareable page and feed."""

    id: int
    user_id: int
    owner: str
    name: str
    public: bool
    paper_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


def collection_json(c: Collection) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "public": c.public,
        "owner": {"name": c.owner},
        "numPapers": c.paper_count,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "url": f"/collections/{c.id}",
        "feed": f"/collections/{c.id}/feed.xml",
    }


@dataclass(slots=True)
class Note:
    """A reader's private note on a paper."""

    paper_id: str
    body: str
    updated_at: datetime


FollowKind = str  # "author" | "category"
FOLLOW_KINDS = ("author", "category")


@dataclass(slots=True)
class Follow:
    kind: FollowKind
    value: str
    created_at: datetime | None = None


@dataclass(slots=True)
class ReaderSignals:
    """What a reader has told us, each a list of paper ids, newest first."""

    upvoted: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    dismissed: list[str] = field(default_factory=list)

    @property
    def positives(self) -> list[str]:
        return list(dict.fromkeys([*self.saved, *self.upvoted, *self.read]))

    def fingerprint(self) -> str:
        """Changes whenever any signal changes (the model is retrained then, not per request)."""
        import hashlib

        h = hashlib.sha256()
        for name in ("upvoted", "saved", "read", "dismissed"):
            h.update(name.encode())
            for pid in sorted(getattr(self, name)):
                h.update(pid.encode() + b"\0")
        return h.hexdigest()[:16]


@dataclass(slots=True)
class PurgeReport:
    """How many rows of each kind a housekeeping run removed."""

    unconfirmed_subscribers: int = 0
    sessions: int = 0
    pending_signups: int = 0
    throttle_rows: int = 0

    @property
    def total(self) -> int:
        return (
            self.unconfirmed_subscribers + self.sessions + self.pending_signups + self.throttle_rows
        )

    def summary(self) -> str:
        return (
            f"purged {self.unconfirmed_subscribers} unconfirmed subscriptions, "
            f"{self.sessions} expired sessions, {self.pending_signups} expired sign-ups, "
            f"{self.throttle_rows} old throttle counters"
        )
