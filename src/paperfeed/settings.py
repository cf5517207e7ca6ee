"""Typed settings, read from `PAPERFEED_*` environment variables (and CLI flags).

Every setting has a help string; `tests/test_settings.py` checks that each is documented in
the README. Settings are built by `load_settings()`, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, time
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from paperfeed.errors import ConfigError

INSECURE_SECRET = "change-me"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SERVED_URL_FILE = "served_url"
EMBEDDERS = ("auto", "onnx", "static", "torch", "transformer")  # what `make_embedder` takes
TRANSFORMERS = ("auto", "onnx", "torch", "off")  # PAPERFEED_TRANSFORMER
# PAPERFEED_EMBEDDER (one embedder per instance, before progressive indexing) -> the transformer
EMBEDDER_TO_TRANSFORMER = {
    "auto": "auto",
    "transformer": "auto",
    "onnx": "onnx",
    "torch": "torch",
    "static": "off",
}
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")


def parse_time_of_day(text: str, setting: str = "PAPERFEED_DIGEST_TIME") -> time | None:
    """`HH:MM` as a UTC time of day; None for an empty setting (that schedule is off)."""
    if not text.strip():
        return None
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes), tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"{setting} must be HH:MM (UTC), not {text!r}") from None


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("paperfeed", appauthor=False))


class Settings(BaseSettings):
    """All of paperfeed's configuration in one place."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory holding the SQLite database and the search indexes.",
    )
    database_url: str | None = Field(
        default=None,
        description="Store location; empty means SQLite at <data_dir>/paperfeed.sqlite3. "
        "postgresql://... selects the PostgreSQL store (scale-out).",
    )
    secret_key: str = Field(
        default="",
        description="Key signing sessions, CSRF tokens and email links. Generated and kept in "
        "<data_dir>/secret_key when empty.",
    )
    base_url: str = Field(
        default="",
        description="Public URL of this instance, used in links in emails and feeds. Empty: "
        "the address `paperfeed serve` listens on (http://HOST:PORT), which serve prints and "
        "remembers in <data_dir>/served_url for commands run outside it (`digest send`); "
        f"{DEFAULT_BASE_URL} before any serve.",
    )
    site_name: str = Field(default="paperfeed", description="Name shown in pages and emails.")
    transformer: str = Field(
        default="auto",
        description="The transformer that fills the second vector index behind the static one "
        "(newest papers first): 'auto' (the default: 'torch' where torch sees a CUDA GPU, else "
        "'onnx' where onnxruntime is installed, else 'off'), 'onnx' (the bundled "
        "all-MiniLM-L6-v2, int8, installed with paperfeed), 'torch' (all-MiniLM-L6-v2 "
        "via sentence-transformers, on a GPU when present, `paperfeed[transformer]`) or 'off' "
        "(static vectors only).",
    )
    transformer_tokens: int = Field(
        default=128,
        ge=16,
        le=512,
        description="Word pieces of each paper (title, then abstract) the transformer reads. "
        "128 (the default) embeds 2.7x as many papers per second as 256 and keeps 89% of its "
        "meaning-only relevance on the dev queries; 256 for instances that prefer relevance "
        "over backfill time. Changing it re-embeds the transformer's index.",
    )
    transformer_batch: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Papers per transformer backfill step (progress is kept on disk after "
        "each step, so a killed backfill loses at most one); 0: the model's default (128 on "
        "a CPU, 2048 on a GPU).",
    )
    embedder: str = Field(
        default="auto",
        description="Deprecated alias of PAPERFEED_TRANSFORMER, read only when that is not set: "
        "'static' = off, 'onnx' and 'torch' = that transformer, 'auto' and 'transformer' = "
        "auto. Every paper gets the bundled static vectors first either way.",
    )
    online: bool = Field(
        default=False,
        description="Allow fetching unknown papers from arXiv when a user submits them.",
    )
    smtp_url: str = Field(
        default="",
        description="SMTP server for digests, e.g. smtp://user:pass@host:587?starttls=1 or "
        "smtps://host:465. Empty disables sending.",
    )
    smtp_connections: int = Field(
        default=4,
        ge=1,
        le=32,
        description="SMTP connections a digest run keeps busy at once (one thread drives them "
        "all; each connection holds at most one message in flight). 1 sends one message at a "
        "time.",
    )
    mail_from: str = Field(
        default="paperfeed <noreply@localhost>",
        description="Sender address of digests and confirmation emails.",
    )
    digest_time: str = Field(
        default="07:00",
        description="UTC time of day (HH:MM) at which `paperfeed serve` sends due digests; "
        "empty disables the built-in scheduler.",
    )
    fetch_interval: float = Field(
        default=3.0,
        ge=0,
        description="Minimum seconds between two requests to the same host when importing "
        "from a URL (arXiv asks for 3).",
    )
    fetch_retries: int = Field(
        default=4,
        ge=0,
        le=10,
        description="Extra attempts (with exponential backoff from 2 s) after a failed request "
        "to an upstream (connection error, 429, 5xx).",
    )
    arxiv_url: str = Field(
        default="https://export.arxiv.org",
        description="arXiv base URL for `paperfeed harvest`: OAI-PMH at <url>/oai2, daily RSS "
        "at <url>/rss/<category> (point it at a mirror or a test server).",
    )
    hf_url: str = Field(
        default="https://huggingface.co",
        description="Hugging Face base URL for the hf-daily source (<url>/api/daily_papers).",
    )
    sources: str = Field(
        default="",
        description="Comma-separated sources to harvest besides those added with `paperfeed "
        "sources add`, e.g. 'arxiv:cs.CL,arxiv:cs.LG,hf-daily'.",
    )
    harvest_time: str = Field(
        default="01:30",
        description="UTC time of day (HH:MM) at which `paperfeed serve` harvests the followed "
        "sources, after arXiv's daily announce (20:00 US Eastern); empty disables it.",
    )
    curation_auto_list: int = Field(
        default=0,
        ge=0,
        le=100,
        description="After each scheduled harvest, put the top N of the curation queue on the "
        "daily list (as 'auto-curation'); 0 turns it off.",
    )
    page_cache_mb: int = Field(
        default=64,
        ge=0,
        le=4096,
        description="Memory (MiB per app process) for rendered public pages served to visitors "
        "without a session; a page is re-rendered after any change to the store or the search "
        "indexes. 0 turns the cache off.",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark the session and CSRF cookies Secure (sent over https only). Empty: "
        "on when the base URL is https://, off for http://; true or false overrides it.",
    )

    @field_validator("secure_cookies", mode="before")
    @classmethod
    def _secure_cookies_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        return Path(str(value)).expanduser() if value not in (None, "") else default_data_dir()

    _base_url_derived: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _derive_base_url(self) -> Settings:
        """An empty base URL is the one the last `serve` listened on (else the default)."""
        if not self.base_url.strip():
            self._base_url_derived = True
            self.base_url = self._served_url() or DEFAULT_BASE_URL
        return self

    def _served_url(self) -> str | None:
        try:
            text = (self.data_dir / SERVED_URL_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text if text.startswith(("http://", "https://")) else None

    @property
    def cookies_secure(self) -> bool:
        """Whether cookies are marked Secure: PAPERFEED_SECURE_COOKIES, else an https base URL."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return urlsplit(self.base_url).scheme == "https"

    @property
    def base_url_derived(self) -> bool:
        """True when PAPERFEED_BASE_URL was not given (serve may set it from its address)."""
        return self._base_url_derived

    def use_served_url(self, url: str) -> None:
        """Serve's own address becomes the base URL, remembered for later commands.

        Written whole under a name of its own, then renamed into place: a command starting
        meanwhile reads the previous address or this one, never an empty file."""
        self.base_url = url
        path = self.data_dir / SERVED_URL_FILE
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with _draft(path, url + "\n") as draft:
                os.replace(draft, path)
        except OSError:  # a read-only data dir is reported by the store; links still work
            pass

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value not in EMBEDDERS:
            raise ConfigError(
                f"PAPERFEED_EMBEDDER must be one of {', '.join(EMBEDDERS)}, not {value!r}"
            )
        return value

    @field_validator("transformer")
    @classmethod
    def _known_transformer(cls, value: str) -> str:
        if value not in TRANSFORMERS:
            raise ConfigError(
                f"PAPERFEED_TRANSFORMER must be one of {', '.join(TRANSFORMERS)}, not {value!r}"
            )
        return value

    @property
    def transformer_choice(self) -> str:
        """PAPERFEED_TRANSFORMER, else what the deprecated PAPERFEED_EMBEDDER implies."""
        if "transformer" in self.model_fields_set or "embedder" not in self.model_fields_set:
            return self.transformer
        return EMBEDDER_TO_TRANSFORMER[self.embedder]

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        parse_time_of_day(value, "PAPERFEED_DIGEST_TIME")
        return value

    @field_validator("harvest_time")
    @classmethod
    def _harvest_time(cls, value: str) -> str:
        parse_time_of_day(value, "PAPERFEED_HARVEST_TIME")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value.strip():
            from paperfeed.digest.smtp import parse_smtp_url
            from paperfeed.errors import PaperfeedError

            try:
                parse_smtp_url(value)
            except PaperfeedError as exc:
                raise ConfigError(exc.message) from None
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        address = parseaddr(value)[1]
        if not address or "@" not in address:
            raise ConfigError(f"PAPERFEED_MAIL_FROM has no usable address: {value!r}")
        return value

    @field_validator("arxiv_url", "hf_url")
    @classmethod
    def _upstream_url(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"PAPERFEED_{(info.field_name or '').upper()} must be an http(s) URL, not {value!r}"
            )
        return value

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: str) -> str:
        from paperfeed.errors import PaperfeedError
        from paperfeed.ingest.harvest import parse_source

        for name in value.split(","):
            if name.strip():
                try:
                    parse_source(name)
                except PaperfeedError as exc:
                    raise ConfigError(f"PAPERFEED_SOURCES: {exc.message}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in DATABASE_SCHEMES or not rest.strip("/"):
            shown = f"{scheme}://..." if sep else "a value without a scheme"
            raise ConfigError(
                "PAPERFEED_DATABASE_URL must be sqlite:///PATH or postgresql://HOST/DB, "
                f"not {shown}"
            )
        if scheme == "sqlite" and not rest.startswith("/"):
            raise ConfigError("PAPERFEED_DATABASE_URL: write sqlite:///PATH (three slashes)")
        if scheme == "sqlite" and not rest.startswith("//"):
            raise ConfigError(
                f"PAPERFEED_DATABASE_URL: {rest[1:]!r} is a relative path, which would open "
                "another file from each working directory (cron, systemd); write sqlite:/// "
                "and the absolute path, e.g. sqlite:////srv/paperfeed/paperfeed.sqlite3"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.strip():  # derived from serve's address (see _derive_base_url)
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"PAPERFEED_BASE_URL must be an http(s) URL such as https://papers.example.org, "
                f"not {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.secret_key == INSECURE_SECRET:
            raise ConfigError("PAPERFEED_SECRET_KEY must not be the placeholder 'change-me'")
        return self

    @property
    def digest_at(self) -> time | None:
        """When `paperfeed serve` sends due digests each day (None: never)."""
        return parse_time_of_day(self.digest_time, "PAPERFEED_DIGEST_TIME")

    @property
    def harvest_at(self) -> time | None:
        """When `paperfeed serve` harvests the followed sources each day (None: never)."""
        return parse_time_of_day(self.harvest_time, "PAPERFEED_HARVEST_TIME")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "paperfeed.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def resolved_secret(self) -> str:
        """The configured secret, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        import secrets

        path = self.data_dir / "secret_key"
        if not path.exists():
            # Written whole and private under a name of its own, then linked into place:
            # processes starting together (serve and worker on one data directory) all end
            # up with the first key linked, and none ever reads a half-written or
            # world-readable one.
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with _draft(path, secrets.token_urlsafe(32), mode=0o600) as draft:
                try:
                    os.link(draft, path)
                except FileExistsError:
                    pass  # another process's key came first: use that one
                except OSError:  # a file system without hard links
                    if not path.exists():
                        os.replace(draft, path)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top.

    Raises ConfigError, one line naming each bad setting, when the configuration is invalid.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(config_message(exc)) from None


def config_problems(exc: ValidationError) -> dict[str, str]:
    """What is wrong with the settings, by setting name ('' for the whole), each message
    naming its variable."""
    problems: dict[str, str] = {}
    for err in exc.errors():
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        field = "_".join(str(x) for x in err.get("loc", ()))
        if field and "PAPERFEED_" not in message:
            message = f"PAPERFEED_{field.upper()}: {message}"
        problems[field] = f"{problems[field]}; {message}" if field in problems else message
    return problems


def config_message(exc: ValidationError) -> str:
    """One line for all that is wrong with the settings, each part naming its variable."""
    return "invalid configuration: " + "; ".join(config_problems(exc).values())


def load_settings_for_diagnosis(**overrides: object) -> tuple[Settings, dict[str, str]]:
    """Settings even from a bad configuration, for `paperfeed doctor`: each invalid setting
    is reported (by name) and replaced by its default so the other checks can still run."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean), {}  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = config_problems(exc)
    for name in problems:
        if name in Settings.model_fields:
            clean[name] = Settings.model_fields[name].get_default(call_default_factory=True)
    try:
        return Settings(**clean), problems  # type: ignore[arg-type]
    except ValidationError as exc:  # a whole-model rule failed (the placeholder secret)
        raise ConfigError(config_message(exc)) from None


@contextmanager
def _draft(path: Path, text: str, *, mode: int = 0o666) -> Iterator[Path]:
    """`text` written whole and synced to a new file beside `path`, under a name of its own
    (`mode`, less the umask), for the body to put in place with one rename or link: a reader
    of `path` never sees it half written. Whatever is left of the draft is removed after."""
    import secrets

    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        yield draft
    finally:
        draft.unlink(missing_ok=True)
