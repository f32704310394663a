"""The recommender's text analysis (its sparse side), and the analyses of saved papers kept in
the store.

A text becomes (term ids, counts): arxiv-sanity's tokenisation (sklearn's analyzer: uni- and
bigrams, English stop words, accents stripped, ASCII word tokens). A term's id is a 64-bit hash
that is the same in every process and on every machine (FNV-1a over the token's bytes, then
mixed), so analyses can be stored, read back by another process (a digest worker, the web
server) and compared with fresh ones; a bigram's id is mixed from its two words' ids in numpy (no
bigram string is built). Ties between equally weighted terms break the same way everywhere.

The analysis is the dearest step of a request's sparse side, so it is done once per paper and
process (an LRU, `Analyser.of`) and, for the papers readers save or dismiss, once per paper
and text (`TermRows`, a feature table filled by `paperfeed index` and before each digest run).
The store drops a paper's row when its title or abstract changes (its triggers), and a stored
row carries a fingerprint of the text it was made from (and of the analysis), so a paper is never
scored on its old text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from itertools import chain, filterfalse

import numpy as np

from paperfeed.embed.base import paper_text
from paperfeed.store.db import Database

Analysis = tuple[np.ndarray, np.ndarray]
"""(sorted term ids as int64, their counts as float32)."""

ANALYSIS_VERSION = "1"  # part of every stored fingerprint: a changed analysis makes rows stale
TERM_CACHE = 20_000  # papers whose analysed text is kept per process (a few KB each)
RECENT_TOKENS = 512  # papers whose tokens are kept to name their terms (the shortlist's)
TOKEN_BYTES = 64  # a token's first this many bytes make its id (longer ones are all but unseen)

TOKEN_PATTERN = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_-]+\b"  # arxiv-sanity's, as sklearn's analyzer takes it
FAST_TOKEN_PATTERN = r"(?u)[a-zA-Z_](?<!\w[a-zA-Z_])[a-zA-Z0-9_-]+\b"
"""The same matches as `TOKEN_PATTERN`, found ~15-25 % faster: the leading word boundary is
asked after the first letter (a letter at the start of a word: no word character before it),
so the pattern starts with a character set, which lets the regex engine skip ahead to a letter
instead of trying the boundary at every position. A test checks both give the same tokens."""

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BIGRAM_MIX = 0x9E3779B97F4A7C15 - (1 << 64)  # an odd 64-bit constant (as a signed int64)
_BIGRAM_SALT = 0x5851F42D4C957F2D


def token_ids(tokens: Sequence[str]) -> np.ndarray:
    """The stable 64-bit ids of ASCII tokens: FNV-1a over 8-byte words of the zero-padded token,
    each step followed by a shift-xor (so all 64 bits depend on every byte)."""
    if not tokens:
        return np.zeros(0, np.int64)
    raw = np.array(tokens, dtype=f"S{TOKEN_BYTES}")  # ASCII only: the token pattern's letters
    words = raw.view("<u8").astype(np.uint64).reshape(len(tokens), TOKEN_BYTES // 8)
    h = np.full(len(tokens), _FNV_OFFSET)
    shift = np.uint64(29)
    for j in range(words.shape[1]):  # array arithmetic wraps around silently
        h = (h ^ words[:, j]) * _FNV_PRIME
        h ^= h >> shift
    return h.view(np.int64)


def _counted(ids: np.ndarray) -> Analysis:
    """The distinct ids, sorted, and how often each occurs."""
    distinct, counts = np.unique(ids, return_counts=True)
    return distinct, counts.astype(np.float32)


def _bigrams(uni: np.ndarray) -> np.ndarray:
    """The ids of the bigrams of consecutive unigram ids (array arithmetic wraps around
    silently; only numpy's scalar arithmetic warns)."""
    return uni[:-1] * np.int64(_BIGRAM_MIX) + (uni[1:] ^ np.int64(_BIGRAM_SALT))


def gram(tokens: list[str], position: int) -> str:
    """The unigram or bigram at `position` of `Analyser.ids(tokens)`."""
    if position < len(tokens):
        return tokens[position]
    j = position - len(tokens)
    return f"{tokens[j]} {tokens[j + 1]}"


class Analyser:
    """Texts analysed into term ids and counts, cached per paper id (see the module docstring).
    The few names shown are found again from the tokens of the last `RECENT_TOKENS` papers
    analysed (`positions`)."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), stop_words="english", strip_accents="unicode",
            token_pattern=TOKEN_PATTERN,
        )
        self.preprocess = vectorizer.build_preprocessor()
        self.tokenize = re.compile(FAST_TOKEN_PATTERN).findall
        self.stop = frozenset(vectorizer.get_stop_words() or ())
        self.cache: OrderedDict[str, Analysis] = OrderedDict()
        self.recent: OrderedDict[str, list[str]] = OrderedDict()
        self.named: OrderedDict[str, tuple[list[str], dict[int, int]]] = OrderedDict()
        self.lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        """The text's words after sklearn's preprocessing, tokenising and stop words."""
        return list(filterfalse(self.stop.__contains__, self.tokenize(self.preprocess(text))))

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """Term ids of the unigrams then the bigrams of `tokens` (sklearn's order). Every token
        is hashed afresh: in numpy, ~0.2 µs a token, where a per-process memo of ids took ~0.5 µs
        (a dict look-up per token, and the new tokens' hashing besides)."""
        uni = token_ids(tokens)
        if len(uni) < 2:
            return uni
        return np.concatenate((uni, _bigrams(uni)))

    def _analyses(self, texts: Sequence[list[str]]) -> list[Analysis]:
        """`_counted(self.ids(tokens))` of each text's tokens, computed for all of them at once:
        the ids of every token in one pass, the bigrams of the whole run (those across two
        texts dropped), and the entries of all sorted together, by id then stably by text (which
        groups each text's terms). Per text, numpy's fixed costs were most of the work."""
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        uni = token_ids(list(chain.from_iterable(texts)))
        # each entry's text, as 16-bit numbers where they fit: numpy's stable sort of those is a
        # radix sort (~5 times quicker than of 32-bit ones at a request's ~20,000 entries)
        small = np.uint16 if len(texts) <= 1 << 16 else np.int64
        text = np.repeat(np.arange(len(texts), dtype=small), lengths)
        inside = np.ones(max(len(uni) - 1, 0), bool)  # a bigram inside one text
        across = np.cumsum(lengths)[:-1] - 1  # a text's last token's bigram (the last text's: none)
        inside[across[(across >= 0) & (across < len(inside))]] = False
        ids = np.concatenate((uni, _bigrams(uni)[inside]))
        owner = np.concatenate((text, text[:-1][inside]))
        order = np.argsort(ids)
        order = order[np.argsort(owner[order], kind="stable")]
        ids, owner = ids[order], owner[order]
        first = np.ones(len(ids), bool)
        first[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(ids))).astype(np.float32)
        cuts = np.searchsorted(owner[starts], np.arange(1, len(texts)))
        return list(zip(np.split(ids[starts], cuts), np.split(counts, cuts), strict=True))

    def analyse(self, text: str) -> tuple[Analysis, list[str]]:
        """(term ids, counts) of a text, and its tokens; not cached."""
        tokens = self.tokens(text)
        return _counted(self.ids(tokens)), tokens

    def of(self, pid: str, text: str) -> Analysis:
        """(sorted term ids, counts) of one paper's text."""
        return self.of_many([(pid, text)])[0]

    def of_many(self, docs: Sequence[tuple[str, str]]) -> list[Analysis]:
        """`of` for several (paper id, text): the texts not cached yet are tokenised first and
        their new tokens given ids together (`learn`)."""
        out: list[Analysis | None] = [None] * len(docs)
        todo: list[int] = []
        with self.lock:
            for j, (pid, _) in enumerate(docs):
                hit = self.cache.get(pid)
                if hit is None:
                    todo.append(j)
                else:
                    self.cache.move_to_end(pid)
                    out[j] = hit
        if todo:
            tokens = [self.tokens(docs[j][1]) for j in todo]
            for j, words, found in zip(todo, tokens, self._analyses(tokens), strict=True):
                out[j] = found
                pid = docs[j][0]
                with self.lock:
                    self.cache[pid] = found
                    if len(self.cache) > TERM_CACHE:
                        self.cache.popitem(last=False)
                    self.recent[pid] = words
                    if len(self.recent) > RECENT_TOKENS:
                        self.recent.popitem(last=False)
        return [a for a in out if a is not None]

    def names(self, docs: Sequence[tuple[str, str]]) -> dict[int, str]:
        """Term id -> term, for the terms of these (paper id, text) documents."""
        out: dict[int, str] = {}
        for pid, text in docs:
            tokens, positions = self.positions(pid, text)
            out.update((i, gram(tokens, p)) for i, p in positions.items())
        return out

    def positions(self, pid: str, text: str) -> tuple[list[str], dict[int, int]]:
        """The paper's tokens, and each term id's position among its unigrams then bigrams
        (a term is named from these only when shown: no gram string is built for the rest),
        kept for the last `RECENT_TOKENS` papers asked."""
        with self.lock:
            hit = self.named.get(pid)
            if hit is not None:
                self.named.move_to_end(pid)
                return hit
            tokens = self.recent.get(pid)
        if tokens is None:
            tokens = self.tokens(text)
        ids = self.ids(tokens).tolist()
        found = (tokens, dict(zip(ids, range(len(ids)), strict=True)))  # a repeat: its last
        with self.lock:
            self.named[pid] = found
            if len(self.named) > RECENT_TOKENS:
                self.named.popitem(last=False)
        return found


_ANALYSER: Analyser | None = None


def analyser() -> Analyser:
    """The process's analyser (sklearn is imported on first use)."""
    global _ANALYSER
    if _ANALYSER is None:
        _ANALYSER = Analyser()
    return _ANALYSER


# -- analyses kept in the store ---------------------------------------------------------------


def fingerprint(text: str) -> str:
    """What a stored analysis was made from: the analysis version and a hash of the text."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    return f"{ANALYSIS_VERSION}:{digest}"


def encode(analysis: Analysis) -> str:
    """An analysis as text (portable: the feature tables have no binary column): base64 of the
    ids as little-endian int64, then the counts as little-endian uint16."""
    ids, counts = analysis
    raw = ids.astype("<i8").tobytes() + np.minimum(counts, 65535).astype("<u2").tobytes()
    return base64.b64encode(raw).decode("ascii")


def _decoded(text: str) -> Analysis | None:
    try:
        return decode(text)
    except ValueError:  # binascii.Error and UnicodeError are ValueErrors: a damaged row
        return None


def decode(text: str) -> Analysis:
    """The analysis `encode` wrote; ValueError (or binascii.Error) for anything else."""
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)  # validate=True, faster
    n, rest = divmod(len(raw), 10)
    if rest:
        raise ValueError("not an encoded analysis")
    ids = np.frombuffer(raw, "<i8", n).astype(np.int64)
    counts = np.frombuffer(raw, "<u2", n, offset=8 * n).astype(np.float32)
    return ids, counts


class TermRows:
    """The analyses of papers readers saved or dismissed (`paper_terms`), one row per paper:
    read by every recommendation from a stored library, written by `paperfeed index` and each
    digest run (`Library.fill_terms`, through `remember`).

    The store drops a paper's row when its title or abstract changes, or the paper goes (its
    triggers), so a row written since (`kept`) is current without the text being read again
    (`current`): a library's abstracts are the dearest read of a request. Rows of an earlier
    release (`kept` 0) are checked against the text's fingerprint (`checked`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _rows(self, ids: Sequence[str]) -> list[tuple[str, str, str, int]]:
        rows: list[tuple[str, str, str, int]] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows += self.db.query(
                f"SELECT paper_id, fingerprint, terms, kept FROM paper_terms WHERE paper_id IN ({marks})",
                chunk,
            )
        return rows

    def current(self, ids: Sequence[str]) -> tuple[dict[str, Analysis], dict[str, tuple[str, str]]]:
        """The analyses of these papers that are current (kept rows of this analysis version),
        and the rows to check against their texts (paper id -> (fingerprint, terms): rows of an
        earlier release); a damaged row is neither (only a cache miss)."""
        ok: dict[str, Analysis] = {}
        unsure: dict[str, tuple[str, str]] = {}
        for pid, mark, terms, kept in self._rows(ids):
            if not kept:
                unsure[pid] = (mark, terms)
            elif mark.startswith(f"{ANALYSIS_VERSION}:"):
                found = _decoded(terms)
                if found is not None:
                    ok[pid] = found
        return ok, unsure

    @staticmethod
    def checked(unsure: Mapping[str, tuple[str, str]], texts: Mapping[str, str]) -> dict[str, Analysis]:
        """Those of `unsure` (from `current`) made from the papers' texts as they are now."""
        out: dict[str, Analysis] = {}
        for pid, (mark, terms) in unsure.items():
            text = texts.get(pid)
            if text is not None and mark == fingerprint(text):
                found = _decoded(terms)
                if found is not None:
                    out[pid] = found
        return out

    def get(self, texts: Mapping[str, str]) -> dict[str, Analysis]:
        """The stored analyses of these (paper id -> current text) whose text is unchanged."""
        ok, unsure = self.current(list(texts))
        return {**ok, **self.checked(unsure, texts)}

    def remember(self, texts: Mapping[str, str]) -> int:
        """Store the analyses of these (paper id -> text: `paper_text` of its title and
        abstract); returns the rows written. A current row made from the same text is left as
        it is; a paper whose text is no longer the one given (changed meanwhile), or that is
        gone, gets no row."""
        if not texts:
            return 0
        marks = {pid: fingerprint(text) for pid, text in texts.items()}
        ids = list(texts)
        rows = self._rows(ids)
        have = {pid for pid, mark, _, kept in rows if kept and marks.get(pid) == mark}
        # an earlier release's row made from the same text: only marked current
        confirm = {pid for pid, mark, _, kept in rows if not kept and marks.get(pid) == mark}
        todo = [pid for pid in ids if pid not in have]
        if not todo:
            return 0
        analyse = analyser().analyse
        made = {pid: encode(analyse(texts[pid])[0]) for pid in todo if pid not in confirm}
        # The texts are compared with the papers' own inside the writing transaction, with the
        # rows locked (PostgreSQL: FOR SHARE; SQLite's writer holds the file): a text change
        # commits either before (seen here: no row) or after (its trigger drops the row).
        lock = " FOR SHARE" if self.db.dialect == "postgresql" else ""
        written = 0
        with self.db.transaction() as tx:
            for start in range(0, len(todo), 500):
                chunk = todo[start : start + 500]
                now = {
                    pid: paper_text(title, abstract or "")
                    for pid, title, abstract in tx.query(
                        f"SELECT id, title, abstract FROM papers WHERE id IN "
                        f"({','.join('?' * len(chunk))}){lock}", chunk,
                    )
                }
                for pid in chunk:
                    if now.get(pid) != texts[pid]:
                        continue
                    written += 1
                    if pid in confirm:
                        tx.execute("UPDATE paper_terms SET kept = 1 WHERE paper_id = ? AND fingerprint = ?",
                                   (pid, marks[pid]))
                        continue
                    tx.execute(
                        "INSERT INTO paper_terms (paper_id, fingerprint, terms, kept) "
                        "VALUES (?, ?, ?, 1) ON CONFLICT (paper_id) DO UPDATE SET "
                        "fingerprint = excluded.fingerprint, terms = excluded.terms, kept = 1",
                        (pid, marks[pid], made[pid]),
                    )
        return written

    def unanalysed(self, since: str | None = None) -> list[str]:
        """Ids of the saved or dismissed papers without a current stored analysis: none, or an
        earlier release's row (which `remember` marks current when its text is unchanged). In
        one query: a first fill after an upgrade may list every saved paper; later ones, the
        new saves.
        With `since` (an ISO time), only those saved or dismissed at or after it: each paper
        listed costs a probe of `paper_terms`, which over every saved row of a large instance
        takes seconds."""
        saved, dismissed = (" WHERE added_at >= ?", " WHERE created_at >= ?") if since else ("", "")
        rows = self.db.query(
            f"SELECT paper_id FROM (SELECT paper_id FROM collection_papers{saved} UNION "
            f"SELECT paper_id FROM dismissals{dismissed}) AS liked WHERE NOT EXISTS "
            "(SELECT 1 FROM paper_terms t WHERE t.paper_id = liked.paper_id AND t.kept = 1) "
            "ORDER BY paper_id",
            (since, since) if since else (),
        )
        return [str(r[0]) for r in rows]
