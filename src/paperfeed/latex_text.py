"""LaTeX in titles and abstracts as plain Unicode text, for places with no KaTeX (email).

Covers what arXiv metadata actually uses: `$...$` math, Greek letters, common operators and
relations, `\\mathbb{R}`, sub/superscripts of digits and letters, `\\frac`, `\\sqrt`, font
commands (`\\textbf{x}` -> x) and accents (`\\'e` -> é). Unknown commands keep their name
without the backslash, so nothing is silently lost.
"""

from __future__ import annotations

import re
import unicodedata

SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "div": "÷", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃",
    "equiv": "≡", "propto": "∝", "infty": "∞", "partial": "∂", "nabla": "∇", "sum": "∑",
    "prod": "∏", "int": "∫", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆",
    "cup": "∪", "cap": "∩", "emptyset": "∅", "forall": "∀", "exists": "∃", "neg": "¬",
    "wedge": "∧", "vee": "∨", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "Leftarrow": "⇐", "leftrightarrow": "↔", "mapsto": "↦",
    "ll": "≪", "gg": "≫", "circ": "∘", "ell": "ℓ", "hbar": "ħ", "dots": "…", "ldots": "…",
    "cdots": "⋯", "prime": "′", "langle": "⟨", "rangle": "⟩", "log": "log", "exp": "exp",
    "sin": "sin", "cos": "cos", "max": "max", "min": "min", "lim": "lim", "top": "⊤",
    "%": "%", "&": "&", "_": "_", "#": "#", "$": "$", "{": "{", "}": "}", ",": " ", ";": " ",
    "!": "", " ": " ", "em": "", "it": "", "bf": "", "rm": "", "quad": " ", "qquad": "  ",
    "textasciitilde": "~",
}  # fmt: skip
BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
SUPERSCRIPT = str.maketrans(
    "0123456789+-=()abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ"
)
SUBSCRIPT = str.maketrans("0123456789+-=()aeiojkmnprstx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒⱼₖₘₙₚᵣₛₜₓ")
ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303",
           "c": "\u0327", "v": "\u030c", "H": "\u030b", "u": "\u0306", "=": "\u0304",
           ".": "\u0307"}  # fmt: skip
_GROUP = r"\{([^{}]*)\}"
_FONT = re.compile(
    r"\\(?:text(?:bf|it|rm|tt|sf|sc|normal)?|emph|mathrm|mathbf|mathit|mathsf|mathtt|"
    r"mathcal|mathscr|mathfrak|boldsymbol|operatorname|bm|hat|tilde|bar|vec|widetilde|"
    r"widehat|overline|underline)\s*" + _GROUP
)
_BB = re.compile(r"\\mathbb\s*\{?\s*([A-Za-z])\s*\}?")
_FRAC = re.compile(r"\\[dt]?frac\s*" + _GROUP + r"\s*" + _GROUP)
_SQRT = re.compile(r"\\sqrt\s*" + _GROUP)
_ACCENT = re.compile(
    r"\\([\'`\"^~=.])\s*(?:\{\s*([A-Za-z])\s*\}|([A-Za-z]))"  # \'e, \'{e}
    r"|\\([cvuH])(?:\s*\{\s*([A-Za-z])\s*\}|\s+([A-Za-z])(?![A-Za-z]))"  # \v{c}, \c c
)
_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#${},;! ])")
_SCRIPT = re.compile(r"([_^])\s*(?:\{([^{}]*)\}|([A-Za-z0-9+\-]))")


def _script(match: re.Match[str]) -> str:
    kind, body = match[1], match[2] if match[2] is not None else match[3]
    table = SUPERSCRIPT if kind == "^" else SUBSCRIPT
    converted = body.translate(table)
    if all(c != o or c in " " for c, o in zip(converted, body, strict=True)):
        return converted
    return ("^" if kind == "^" else "_") + (body if len(body) == 1 else f"({body})")


def _accent(match: re.Match[str]) -> str:
    mark = match[1] or match[4]
    letter = match[2] or match[3] or match[5] or match[6]
    return unicodedata.normalize("NFC", letter + ACCENTS[mark])


def latex_to_text(text: str) -> str:
    """`text` with LaTeX markup turned into readable Unicode (idempotent on plain text)."""
    if "\\" not in text and "$" not in text and "^" not in text and "_" not in text:
        return text
    out = _ACCENT.sub(_accent, text)
    for _ in range(3):  # nested groups: \frac{\sqrt{x}}{2}
        before = out
        out = _FONT.sub(r"\1", out)
        out = _BB.sub(lambda m: BLACKBOARD.get(m[1], m[1]), out)
        out = _FRAC.sub(lambda m: f"{_atom(m[1])}/{_atom(m[2])}", out)
        out = _SQRT.sub(lambda m: f"√{_atom(m[1])}", out)
        if out == before:
            break
    out = _COMMAND.sub(lambda m: SYMBOLS.get(m[1], m[1]), out)
    out = _SCRIPT.sub(_script, out)
    out = re.sub(r"(?<!\\)\$+", "", out)
    out = out.replace("{", "").replace("}", "").replace("~", "\u00a0")
    return re.sub(r"[ \t]{2,}", " ", out)


def _atom(body: str) -> str:
    body = body.strip()
    return body if len(body) <= 1 or body.isalnum() else f"({body})"


# The delimiters app.js hands KaTeX's auto-render, in its order: `math_regions` finds what it
# will render.
MATH_DELIMITERS = {"$$": "$$", "\\[": "\\]", "$": "$", "\\(": "\\)"}
_MATH_OPEN = re.compile("|".join(re.escape(left) for left in MATH_DELIMITERS))


def _end_of_math(text: str, right: str, pos: int) -> int:
    """Where `right` closes the formula begun before `pos` (outside braces; a backslash
    escapes the next character), or -1: auto-render's findEndOfMath."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if depth <= 0 and text.startswith(right, pos):
            return pos
        if char == "\\":
            pos += 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        pos += 1
    return -1


def math_regions(text: str) -> list[tuple[int, int]]:
    """(start, end) of each formula in `text`, delimiters included, as KaTeX's auto-render
    finds them with app.js's delimiters: the leftmost opening delimiter, then its closing one;
    an opening delimiter with none ends the search (auto-render leaves the rest as text)."""
    if "$" not in text and "\\" not in text:
        return []
    regions: list[tuple[int, int]] = []
    pos = 0
    while (opening := _MATH_OPEN.search(text, pos)) is not None:
        right = MATH_DELIMITERS[opening.group()]
        end = _end_of_math(text, right, opening.end())
        if end < 0:
            break
        pos = end + len(right)
        regions.append((opening.start(), pos))
    return regions


_TEXT_FONT = re.compile(
    r"\\(?:emph|text(?:bf|it|rm|tt|sf|sc|sl|up|md|normal)|underline|mbox)\s*(?=\{)"
    r"|\\(?:em|it|bf|sc|rm|tt|sl|sf|bfseries|itshape|scshape|ttfamily|rmfamily|sffamily|"
    r"upshape|normalfont)(?![A-Za-z])\s*"
)
_TEXT_LINK = re.compile(r"\\(?:url|href)\s*" + _GROUP + r"(?:\s*" + _GROUP + ")?")
_TEXT_SPACE = re.compile(r"\\[ \\]|\\footnote\s*(?=\{)")  # control space, line break
_TEXT_COMMAND = re.compile(r"\\([A-Za-z]+|-)")  # \times -> ×, \- (a hyphenation hint) -> ''
_TEXT_BRACE = re.compile(r"(?<!\\)[{}]")
_TEXT_ESCAPE = re.compile(r"\\([%&#_{}])")


def _text_mode(text: str) -> str:
    out = _ACCENT.sub(_accent, text)
    out = _TEXT_FONT.sub("", out)
    out = _TEXT_LINK.sub(lambda m: m[2] if m[2] is not None else m[1], out)  # \href{url}{text}
    out = _TEXT_SPACE.sub(" ", out)
    out = _TEXT_COMMAND.sub(lambda m: SYMBOLS.get(m[1], "" if m[1] == "-" else m[1]), out)
    out = _TEXT_BRACE.sub("", out)
    out = _TEXT_ESCAPE.sub(r"\1", out)
    return out.replace("---", "\u2014").replace("--", "\u2013")


def text_outside_math(text: str) -> str:
    """`text` with the LaTeX markup outside its formulas made plain (`\\emph{x}`, `{\\em x}`
    -> x, `\\'e` -> é, `\\%` -> %, `--` -> –, `\\url{u}` -> u, `\\times` -> ×, a paper's
    own macro such as `\\model` -> its name), the formulas (`math_regions`) left as they are
    for KaTeX. The words stay the words the search index saw, so highlighting still finds
    them."""
    if "\\" not in text and "{" not in text and "-" not in text and "~" not in text:
        return text
    parts: list[str] = []
    pos = 0
    for start, end in math_regions(text):
        parts += [_text_mode(text[pos:start]), text[start:end]]
        pos = end
    parts.append(_text_mode(text[pos:]))
    return "".join(parts)
