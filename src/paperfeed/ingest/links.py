"""Code and project links found in an abstract or comment (`find_urls` once per text)."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://[^\s<>\"'{}\\^`|]+", re.IGNORECASE)
_GITHUB = re.compile(r"https?://(?:www\.)?github\.com/([\w.-]+)/([\w.-]+)", re.IGNORECASE)
_NOT_PROJECT = re.compile(
    r"(arxiv\.org|doi\.org|github\.com|creativecommons\.org|huggingface\.co/datasets)",
    re.IGNORECASE,
)


def _clean(url: str) -> str:
    """Drop punctuation that ends a sentence, not a URL (and LaTeX leftovers)."""
    url = url.rstrip(".,;:)]}!?'\"")
    return url.removesuffix("\\")


def find_urls(text: str | None) -> list[str]:
    if not text or "://" not in text:  # most abstracts have no link: skip the regex
        return []
    return [_clean(m.group(0)) for m in _URL.finditer(text)]


def github_repo(urls: list[str]) -> str | None:
    """The first GitHub repository URL (https://github.com/owner/repo) among `urls`."""
    for url in urls:
        match = _GITHUB.match(url)
        if match:
            owner, repo = match.group(1), match.group(2).removesuffix(".git")
            repo = repo.rstrip(".")
            if repo:
                return f"https://github.com/{owner}/{repo}"
    return None


def project_page(urls: list[str]) -> str | None:
    """The first non-code, non-arXiv URL (a project page or demo) among `urls`, or None."""
    for url in urls:
        if not _NOT_PROJECT.search(url) and "." in url.split("//", 1)[-1]:
            return url
    return None
