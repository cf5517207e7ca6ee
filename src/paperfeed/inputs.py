"""Text as people type it: no control characters or non-characters (a `BadRequest`, 400).

Days are checked by `paperfeed.dates`."""

from __future__ import annotations

import re

from paperfeed.errors import BadRequest

# C0/C1 controls (tab and newlines are fine), surrogates and Unicode non-characters: they
# cannot go into XML feeds or emails, and no real query contains them.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)


def check_text(text: str, name: str) -> str:
    """`text`, or a BadRequest naming the first character that is not allowed."""
    bad = _UNPRINTABLE.search(text)
    if bad:
        raise BadRequest(
            f"{name} contains the character U+{ord(bad.group()):04X}, which is not allowed"
        )
    return text


def one_newline(text: str) -> str:
    """`text` with every line break as LF. A browser counts a line break of a <textarea> as
    one character (its `maxlength`) but sends it as CR LF: counted as sent, a comment the
    form accepted could be over the limit."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
