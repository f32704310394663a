"""Untrusted text made inert for a terminal.

Paper fields come from outside; a title holding `ESC ] 0 ; … BEL` retitles the window, `ESC [ …`
recolours or moves the cursor, C1 controls (U+0080–U+009F) do the same on terminals that read
them, a carriage return overwrites what was printed, and bidirectional overrides reorder what
the reader sees. `clean` removes all of these (whole escape sequences, not just their ESC) and
keeps line breaks and tabs; it is applied to every piece of outside text the CLI prints, on a
terminal or not (a pipe often ends in one: `| less -R`, a log viewer).

`--json` output stays lossless: JSON already escapes C0 controls; `safe_json` also writes C1
controls, DEL and bidi controls as `\\uXXXX` escapes, which parse back to the same text.
"""

from __future__ import annotations

import re

# ESC and what follows it: CSI (ESC [ params final), OSC/DCS/SOS/PM/APC strings (up to BEL or
# ST), or a two-character sequence.
_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -~])?"
)
# C1 CSI/OSC/DCS... introducers with their strings, then every other control left.
_C1_STRING = re.compile(r"\x9b[0-?]*[ -/]*[@-~]?|[\x9d\x90\x98\x9e\x9f][^\x07\x9c\x1b]*[\x07\x9c]?")
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def clean(text: object) -> str:
    """`text` without terminal control sequences or bidi overrides (newlines and tabs kept)."""
    value = "" if text is None else str(text)
    if value.isprintable():  # the common case: nothing to do
        return value
    value = _ESCAPE.sub("", value)
    value = _C1_STRING.sub("", value)
    return _CONTROL.sub("", value)


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}]")


def safe_json(data: bytes) -> bytes:
    """UTF-8 JSON with C1 controls, DEL and bidi controls as `\\uXXXX` (the same JSON value)."""
    text = data.decode("utf-8")
    if text.isascii() and "\x7f" not in text:
        return data
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
