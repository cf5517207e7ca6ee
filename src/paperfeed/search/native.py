"""Load usearch's native module so that ONNX Runtime can be loaded after it.

Why: usearch's wheel (``usearch/compiled*.so``) links its own static copy of the C++
standard library and exports that copy's ``STB_GNU_UNIQUE`` symbols, among them the
``std::locale::id`` of every standard facet. Unique symbols are merged process-wide, so
the facet ids are shared with the system ``libstdc++.so.6`` (which numpy has already
loaded). When usearch's module initialises first, its private copy of the library numbers
the facets with its own counter and writes those numbers into the shared ids; the shared
``libstdc++`` later builds its classic locale with indices it did not assign, and the first
library that touches locales through it (ONNX Runtime, at import) crashes with SIGSEGV in
``std::codecvt<char16_t, ...>``. Seen with usearch 2.26 and onnxruntime 1.32; the other
import order works because then the shared library has numbered every facet first.

The fix, by construction rather than by import order: before usearch is imported, ask the
shared ``libstdc++`` for its classic locale (``std::locale::classic()``), which numbers
every standard facet there. usearch's copy then finds the ids already set and uses them,
so both copies agree. `tests/test_search_onnx.py` imports usearch first and ONNX Runtime
second in a fresh interpreter (the order that crashed).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_CLASSIC_LOCALE = "_ZNSt6locale7classicEv"  # std::locale::classic()
_done = False


def init_cxx_locale() -> None:
    """Number the C++ locale facets in the shared ``libstdc++`` (Linux; once per process)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    if "usearch.compiled" in sys.modules:
        log.warning("usearch was imported before paperfeed.search: onnxruntime may crash")
        return
    try:
        lib = ctypes.CDLL("libstdc++.so.6")
        classic = getattr(lib, _CLASSIC_LOCALE)
    except (OSError, AttributeError):  # no shared libstdc++ (musl, static builds): no clash
        return
    classic.restype = ctypes.c_void_p
    classic()


init_cxx_locale()

from usearch.index import Index  # noqa: E402  (must follow init_cxx_locale)

__all__ = ["Index", "init_cxx_locale"]
