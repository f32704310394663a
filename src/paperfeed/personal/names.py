"""What a reader types into the library, checked: collection names and notes.

Control characters (line breaks included in names), bidirectional overrides and other format
characters are refused, not stripped: they are a mistake or an attempt to disguise text. HTML is
not refused: a name like `<b>RL</b>` is kept as text and every face escapes it on output.
"""

from __future__ import annotations

import unicodedata

from paperfeed.errors import InvalidInput

MAX_COLLECTION_CHARS = 100
MAX_NOTE_CHARS = 20_000
_BAD_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _bad(ch: str, allowed: str = "") -> bool:
    return ch not in allowed and unicodedata.category(ch) in _BAD_CATEGORIES


def check_collection_name(name: object) -> str:
    """The name as kept (NFC, white space runs collapsed), or InvalidInput."""
    if not isinstance(name, str):
        raise InvalidInput("a collection name must be text")
    if any(_bad(ch) for ch in name):
        raise InvalidInput("a collection name cannot contain line breaks or control characters")
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        raise InvalidInput("a collection name cannot be empty")
    if len(text) > MAX_COLLECTION_CHARS:
        raise InvalidInput(f"a collection name is at most {MAX_COLLECTION_CHARS} characters")
    return text


def name_key(name: str) -> str:
    """Two names with the same key are the same collection (`Reading` and `reading`)."""
    return check_collection_name(name).casefold()


def check_note(note: object) -> str:
    """A note as kept (line breaks and tabs allowed, `\\r\\n` made `\\n`), or InvalidInput."""
    if not isinstance(note, str):
        raise InvalidInput("a note must be text")
    text = note.replace("\r\n", "\n").replace("\r", "\n")
    if any(_bad(ch, "\n\t") for ch in text):
        raise InvalidInput("a note cannot contain control characters")
    text = unicodedata.normalize("NFC", text).strip()
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note is at most {MAX_NOTE_CHARS:,} characters")
    return text
