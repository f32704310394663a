"""TeX in titles and abstracts rendered as readable text, fast enough for a bulk import.

arXiv metadata is written in TeX: accents (`na\\"{\\i}vely`, `Schr\\"odinger`), escapes (`1\\%`),
text macros (`\\emph{x}`), ties (`~`) and inline math (`$O(n^2)$`). pylatexenc renders all of TeX
but takes ~7 ms an abstract (hours for the bulk snapshot) and drops macros it does not know
(`\\method` vanished). This renders the parts that appear in paper metadata, in microseconds, and
leaves everything else as written: math stays `$...$` (readers of papers read it), unknown macros
keep their name without the backslash.

Text-mode symbol commands (`{\\textbackslash}`, `\\textless`, `\\textquoteright`, ... as reference
managers write them) come from pylatexenc's table, read once at import. Characters that stand
for themselves (an escaped `\\{`, a `\\textasciitilde`) are protected from the later steps, which
drop grouping braces and turn `~` into a space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from pylatexenc.latex2text import get_default_latex_context_db

# Accent commands → Unicode combining marks.
_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a", "d": "\u0323", "b": "\u0331",
}
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ",
    "OE": "Œ", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dag": "†", "S": "§", "P": "¶",
    "copyright": "©", "pounds": "£", "ldots": "…", "dots": "…", "textendash": "–",
    "textemdash": "—", "LaTeX": "LaTeX", "TeX": "TeX", "textasciitilde": "~",
}
_ESCAPES = {"%": "%", "&": "&", "#": "#", "_": "_", "$": "$", "{": "{", "}": "}", " ": " ", ",": " "}
# Symbols reference managers escape: pylatexenc's text-mode table, with ASCII where an exporter
# meant the ASCII character (pylatexenc renders `\\textasciicircum` as a modifier letter).
_SYMBOLS = {
    spec.macroname: spec.simplify_repl
    for spec in get_default_latex_context_db().iter_macro_specs()
    if spec.macroname.startswith("text")
    and isinstance(getattr(spec, "simplify_repl", None), str)
    and "%" not in spec.simplify_repl
}
_SYMBOLS |= _LETTERS | {
    "textasciicircum": "^", "textless": "<", "textgreater": ">", "textbar": "|",
    "textunderscore": "_", "textbraceleft": "{", "textbraceright": "}", "textbackslash": "\\",
    "textquotedbl": '"', "textasciitilde": "~", "textquotesingle": "'", "textasciigrave": "`",
}
# Characters later steps would eat, held as private-use stand-ins until the end.
_PROTECT = str.maketrans({"{": "\ue000", "}": "\ue001", "\\": "\ue002", "~": "\ue003", "`": "\ue004",
                          "'": "\ue005", "-": "\ue006"})
_UNPROTECT = {v: chr(k) for k, v in _PROTECT.items()}
_PROTECTED_RE = re.compile("[\ue000-\ue006]")
_TEXT_MACROS = (
    "emph textit textbf textrm textsf texttt textsc textup textnormal text mbox mathrm "
    "underline url"
).split()

_ACCENT_RE = re.compile(
    r"""\\([`'^"~=.])\s*(?:\{\s*(\\?[A-Za-z]|\\i|\\j)?\s*\}|(\\i|\\j|[A-Za-z]))"""
    r"""|\\([uvHckrdb])(?:\s*\{\s*(\\?[A-Za-z])?\s*\}|\s+([A-Za-z]))"""
)
_TEXT_MACRO_RE = re.compile(r"\\(?:" + "|".join(_TEXT_MACROS) + r")\s*\{([^{}$]*)\}")
_FONT_GROUP_RE = re.compile(r"\{\\(?:em|it|bf|rm|sf|tt|sc|sl)\s+([^{}$]*)\}")
_LETTER_RE = re.compile(r"\\([A-Za-z]+)(?![A-Za-z])(?:\{\})?")
_ESCAPE_RE = re.compile(r"\\([%&#_${} ,])")
_MATH_RE = re.compile(r"(?<!\\)\$[^$]*\$")
_REFERENCE_RE = re.compile(r"\s*\\(?:cite[tp]?|citep|citet|ref|eqref|label|footnote)\s*\{[^{}]*\}")
_MACRO_ARG_RE = re.compile(r"\\[A-Za-z]+\s*\{([^{}]*)\}")


def _accent(m: re.Match[str]) -> str:
    if m.group(1):
        mark, base = _ACCENTS[m.group(1)], m.group(2) or m.group(3) or ""
    else:
        mark, base = _ACCENTS[m.group(4)], m.group(5) or m.group(6) or ""
    base = {"\\i": "i", "\\j": "j"}.get(base, base.lstrip("\\"))
    return unicodedata.normalize("NFC", base + mark) if base else mark


def _outside_math(text: str, render: Callable[[str], str]) -> str:
    """Apply `render` to the text between `$...$` spans, leaving the math as written."""
    out, last = [], 0
    for m in _MATH_RE.finditer(text):
        out.append(render(text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(render(text[last:]))
    return "".join(out)


def _render_text(text: str) -> str:
    text = _REFERENCE_RE.sub("", text)
    text = _ACCENT_RE.sub(_accent, text)
    for _ in range(3):  # nested \emph{\textbf{x}}
        new = _FONT_GROUP_RE.sub(r"\1", _TEXT_MACRO_RE.sub(r"\1", text))
        if new == text:
            break
        text = new
    text = _LETTER_RE.sub(_symbol, text)
    text = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)].translate(_PROTECT), text)
    text = text.replace("~", " ").replace("``", "\u201c").replace("''", "\u201d")
    text = text.replace("---", "\u2014").replace("--", "\u2013")
    # Remaining braces used for grouping (`{GPT}-4`) go; unknown macros keep their name.
    text = _MACRO_ARG_RE.sub(r"\1", text)
    text = text.replace("{", "").replace("}", "")
    if "\\" in text:
        text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    return _PROTECTED_RE.sub(lambda m: _UNPROTECT[m.group()], text)


def _symbol(m: re.Match[str]) -> str:
    symbol = _SYMBOLS.get(m.group(1))
    return m.group(0) if symbol is None else symbol.translate(_PROTECT)


def tex_to_text(text: str) -> str:
    """Readable text from TeX-flavoured metadata; math spans are kept verbatim."""
    if "\\" not in text and "~" not in text and "{" not in text and "`" not in text:
        return text
    if "$" in text:
        return _outside_math(text, _render_text)
    return _render_text(text)
