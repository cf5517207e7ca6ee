"""SMTP delivery: `PAPERFEED_SMTP_URL` parsed once, connections reused, two-phase DATA.

`SmtpSender.send` hands the message to the server up to (not including) the final
"<CRLF>.<CRLF>", then calls `before_commit` (which records the send in the outbox), and only
then sends the terminating dot. Until the dot, a dead client means the server discards the
message (RFC 5321 4.1.1.4), so the only moment a crash leaves the outcome unknown is the
few microseconds between the outbox commit and the dot leaving the socket (see
`paperfeed.digest.send`).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from paperfeed.errors import BadRequest

_TRUE = {"1", "true", "yes", "on"}
_LEADING_DOT = re.compile(rb"(?m)^\.")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_EXPECTED = ((250,), (250, 251), (354,))  # replies to MAIL, RCPT, DATA


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    ssl: bool = False  # implicit TLS (smtps://, port 465)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # never show the password in logs
        auth = f"{self.username}:***@" if self.username else ""
        scheme = "smtps" if self.ssl else "smtp"
        tls = "?starttls=1" if self.starttls else ""
        return f"SmtpConfig({scheme}://{auth}{self.host}:{self.port}{tls})"


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://user:pass@host:587?starttls=1`, `smtps://host:465`, `smtp://localhost:25`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise BadRequest(
            "PAPERFEED_SMTP_URL must look like smtp://user:pass@host:587?starttls=1 "
            "or smtps://host:465"
        )
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    implicit_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit_tls else 25)
    except ValueError:
        raise BadRequest("PAPERFEED_SMTP_URL has an invalid port") from None
    try:
        timeout = float(query.get("timeout", "30"))
    except ValueError:
        raise BadRequest("PAPERFEED_SMTP_URL: timeout must be a number of seconds") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        ssl=implicit_tls,
        starttls=not implicit_tls and query.get("starttls", "0") in _TRUE,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
    )


class SmtpRefused(Exception):
    """The server refused the message; `permanent` for a 5xx reply."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


class DeliveryInDoubt(Exception):
    """The connection failed after the final dot: the server may have accepted the message."""


class SmtpSender:
    """One SMTP connection, opened lazily and reused for every message of a run."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None
        self._envelope: list[str] = []  # MAIL, RCPT, DATA of the transaction begun
        self._sent = self._read = 0  # envelope commands sent / their replies read

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.ssl:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        # The final dot is a tiny write after the body: without TCP_NODELAY, Nagle's algorithm
        # holds it until the body is ACKed (a delayed ACK, ~40 ms per message).
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.ehlo()
        if c.starttls:
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if c.username:
            conn.login(c.username, c.password or "")
        return conn

    def check(self) -> None:
        """Connect, greet (and log in, if configured), then say goodbye."""
        self._conn = self._connect()
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def send(
        self,
        message: bytes,
        *,
        sender: str,
        recipient: str,
        before_commit: Callable[[], bool] = lambda: True,
        eight_bit: bool = False,
    ) -> bool:
        """Deliver one message; False if `before_commit` declined (nothing delivered).

        Raises `SmtpRefused` when the server refuses, `OSError`/`SMTPException` when the
        connection fails before the message was committed, `DeliveryInDoubt` after.
        The steps below, called apart, let one thread keep several connections busy.
        """
        self.begin(sender=sender, recipient=recipient, eight_bit=eight_bit)
        while not self.envelope_ready():
            pass
        if not self.hand_over(message, before_commit):
            return False
        self.accepted()
        return True

    def offers_8bitmime(self) -> bool:
        """Whether the server takes 8-bit message bodies (RFC 6152); connects if need be."""
        if self._conn is None:
            self._conn = self._connect()
        return bool(self._conn.has_extn("8bitmime"))

    def waiting_socket(self) -> int | None:
        """The file descriptor to wait on for the server's next reply, or None when the reply
        can be read at once (TLS bytes already decrypted) or there is no connection."""
        sock = self._conn.sock if self._conn is not None else None
        if sock is None or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return None
        return sock.fileno()

    def begin(self, *, sender: str, recipient: str, eight_bit: bool = False) -> None:
        """Open a mail transaction: MAIL, RCPT and DATA go out in one write with PIPELINING,
        else MAIL alone; `envelope_ready` reads the replies (and sends the next command).
        `eight_bit`: the message has 8bit parts (only after `offers_8bitmime()` said yes)."""
        for address in (sender, recipient):
            if (
                not address.isascii()
                or not address.isprintable()
                or "<" in address
                or ">" in address
            ):
                raise ValueError(f"unsafe envelope address {address[:80]!r}")
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        body = " BODY=8BITMIME" if eight_bit else ""
        self._envelope = [
            f"MAIL FROM:<{sender}>{body}\r\n",
            f"RCPT TO:<{recipient}>\r\n",
            "DATA\r\n",
        ]
        self._sent = 3 if conn.has_extn("pipelining") else 1  # RFC 2920: one round trip
        self._read = 0
        try:
            conn.send("".join(self._envelope[: self._sent]).encode())
        except (smtplib.SMTPException, OSError):
            self._drop()
            raise

    def envelope_ready(self) -> bool:
        """Read the replies to the envelope commands sent so far; without PIPELINING send
        the next command. True once DATA is answered 354 (the message can be handed over)."""
        conn = self._conn
        if conn is None:
            raise smtplib.SMTPServerDisconnected("no transaction begun")
        try:
            while self._read < self._sent:
                reply = conn.getreply()
                expected = _EXPECTED[self._read]
                self._read += 1
                if reply[0] not in expected:
                    while self._read < self._sent:  # the pipelined replies still due
                        conn.getreply()
                        self._read += 1
                    self._expect(reply, *expected)
            if self._sent < 3:
                conn.send(self._envelope[self._sent].encode())
                self._sent += 1
                return False
        except SmtpRefused:
            self._reset()
            raise
        except (smtplib.SMTPException, OSError):
            self._drop()
            raise
        return True

    def hand_over(self, message: bytes, before_commit: Callable[[], bool]) -> bool:
        """After `envelope_ready`: the whole message but the final dot, then
        `before_commit()` (the outbox commit), then the dot. False, with the transaction
        abandoned, if it declined."""
        conn = self._conn
        if conn is None:
            raise smtplib.SMTPServerDisconnected("no transaction begun")
        try:
            if message.count(b"\n") != message.count(b"\r\n"):
                message = _BARE_LF.sub(b"\r\n", message)
            body = (
                _LEADING_DOT.sub(b"..", message)
                if b"\n." in message or message.startswith(b".")
                else message
            )
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body)
        except (smtplib.SMTPException, OSError):
            self._drop()
            raise
        if not before_commit():
            self._drop()  # closing before the dot makes the server discard the message
            return False
        try:
            conn.send(b".\r\n")
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryInDoubt(str(exc)) from exc
        return True

    def accepted(self) -> None:
        """After `hand_over`: the server's reply to the final dot (250, else SmtpRefused)."""
        conn = self._conn
        try:
            if conn is None:
                raise smtplib.SMTPServerDisconnected("connection lost after the message")
            reply = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryInDoubt(str(exc)) from exc
        self._expect(reply, 250)

    @staticmethod
    def _expect(reply: tuple[int, bytes], *ok: int) -> None:
        code, text = reply
        if code not in ok:
            raise SmtpRefused(code, text.decode("utf-8", "replace"))

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
