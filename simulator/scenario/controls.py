"""Control characters in text from a file: finding them, naming them, escaping them.

Scenario files, lesson texts and file names are untrusted, and what they hold is shown on a
terminal. These helpers only need `re`, so the lesson menu and the file checks use them
without loading the format's pydantic models (`simulator.scenario.format` re-exports them).
"""

from __future__ import annotations

import re

# Characters that must never reach a terminal from a file: C0 and C1 controls (ESC starts the
# CSI/OSC sequences that retitle a window, write the clipboard or fake a hyperlink; CSI is also
# the single C1 byte U+009B; CR rewrites a line in place), DEL, and the bidirectional overrides
# and isolates that make text display in another order than it reads ("Trojan source").
# Multi-line text (Markdown) keeps newline and tab.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROL_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_MULTI_LINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


_CONTROL_NAMES = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\x1b": "an escape",
}


def control_index(text: str, *, multiline: bool = False) -> int | None:
    """The index of the first character of `text` that must not reach a terminal, or None."""
    found = (_CONTROL_MULTI_LINE if multiline else _CONTROL_ONE_LINE).search(text)
    return None if found is None else found.start()


def describe_character(char: str) -> str:
    """``an escape (U+001B)``: a control character in words a reader can act on."""
    return f"{_CONTROL_NAMES.get(char, 'a control character')} (U+{ord(char):04X})"


def printable(text: str) -> str:
    """`text` with every control character written as a Python escape (``\\x1b``), for messages
    that quote what a file or a file name contains. Newlines are escaped too: one message, one
    line.

    >>> printable("evil\\x1b]0;pwned\\x07.toml")
    'evil\\\\x1b]0;pwned\\\\x07.toml'
    """
    return _CONTROL_ONE_LINE.sub(lambda m: repr(m.group())[1:-1], text)
