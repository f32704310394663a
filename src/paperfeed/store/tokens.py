"""The keyword tokenizer both engines share: text to index tokens, in Python.

It reproduces SQLite FTS5's `porter unicode61 remove_diacritics 2` (the SQLite index's own
tokenizer) token for token: lower-cased, diacritics of Latin letters dropped, words are runs of
letters and digits (an underscore or any other character separates them, as in unicode61), each
word through Porter's algorithm as Martin Porter's own implementation has it, which is what
FTS5's `porter` is (NLTK's `MARTIN_EXTENSIONS` mode; snowball's "porter" and NLTK's
`ORIGINAL_ALGORITHM` differ from FTS5 on words such as "grokking" and "methodology"), words of
fewer than three or more than 64 bytes left unstemmed as FTS5 leaves them.
`tests/test_keyword_tokens.py` checks the two agree on the fixtures' text.

PostgreSQL indexes these tokens (`store.postgres.keyword`); on SQLite, FTS5 produces the same ones
itself. Query words are stemmed here for both engines.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

_WORD_RE = re.compile(r"[^\W_]+")
MIN_STEM = 3  # FTS5's porter leaves shorter tokens alone...
MAX_STEM = 64  # ...and longer ones (FTS5_PORTER_MAX_TOKEN)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    """NLTK's Porter stemmer, imported on first use: importing `nltk` loads most of the package
    (scipy.stats among it), about a second that every command not stemming a word would pay."""
    from nltk.stem.porter import PorterStemmer  # type: ignore[import-untyped]

    return PorterStemmer(PorterStemmer.MARTIN_EXTENSIONS)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The index token of one folded word (see the module docstring). FTS5's porter works on
    UTF-8 bytes, every byte of a non-ASCII letter a consonant: such words are stemmed as their
    bytes (spelled as Latin-1 characters, which the stemmer also takes for consonants)."""
    if word.isascii():
        return word if not MIN_STEM <= len(word) <= MAX_STEM else _stemmer().stem(word, to_lowercase=False)
    raw = word.encode()
    if not MIN_STEM <= len(raw) <= MAX_STEM:
        return word
    out = _stemmer().stem(raw.decode("latin-1"), to_lowercase=False)
    return out.encode("latin-1").decode("utf-8", errors="replace")


@lru_cache(maxsize=100_000)
def _fold_char(c: str) -> str:
    """One non-ASCII character as unicode61 folds it: lower-cased; a Latin letter with
    diacritics (Latin-1 Supplement, Latin Extended-A/B and Additional) becomes its base letter.
    No compatibility decomposition ("ﬁ", "²" and full-width letters stay as they are), and
    other scripts keep their marks, as in FTS5; a combining diacritic is dropped."""
    if 0x300 <= ord(c) <= 0x36F:  # a combining diacritic: dropped, inside the word
        return ""
    low = c.lower()
    if len(low) != 1:  # "İ" lowers to "i" and a combining dot
        return "".join(_fold_char(x) if not x.isascii() else x for x in low)
    code = ord(low)
    if 0xC0 <= code <= 0x24F or 0x1E00 <= code <= 0x1EFF:
        base = unicodedata.normalize("NFD", low)[0]
        if base.isascii():
            return base
    return low


def fold(text: str) -> str:
    """Lower-cased, Latin diacritics dropped (see `_fold_char`)."""
    if text.isascii():
        return text.lower()
    return "".join(c.lower() if c.isascii() else _fold_char(c) for c in text)


def words(text: str) -> list[str]:
    """The folded words of a text, in order, unstemmed."""
    return _WORD_RE.findall(fold(text))


def tokens(text: str) -> list[str]:
    """The index tokens of a text, in order (repeats kept: their count is the term frequency)."""
    return list(map(stem, words(text)))


def query_tokens(terms: Sequence[str]) -> list[str]:
    """The index token of each query word (words that fold into several tokens, such as
    "gpt_4", give their first; a word with no letter or digit gives "")."""
    out = []
    for term in terms:
        found = tokens(term)
        out.append(found[0] if found else "")
    return out


def field_counts(fields: Iterable[str]) -> list[Counter[str]]:
    """Token counts of each field."""
    return [Counter(tokens(f)) for f in fields]
