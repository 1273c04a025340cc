"""The sandbox's input line: one call per line, with history (↑/↓) and completion (→).

A control character pasted into the line is shown in its visible form and reported when the
line is entered (`CallInput.refused`): text typed never drives the terminal.

Completion offers the rest of the word being typed from the vocabulary the line can use: the
calls of the call table, the flag names, the commands, and the names the session has bound
(`VocabularySuggester`); Textual's `Input` shows it greyed after the cursor and → takes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input

from simulator import syscalls, uapi
from simulator.scenario.callsyntax import MAX_LINE
from simulator.scenario.controls import control_index, describe_character
from simulator.scenario.vocabulary import FAMILIES
from tui.render.safe import safe_text

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
#: Words every line may use besides the bound names, calls first (the likelier completion).
WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *(name for name, call in syscalls.CALLS.items() if call.scenario),
            *(name for table in FAMILIES.values() for name in table),
            *uapi.KQ_FILTER_NAMES,
            *uapi.KQ_FLAG_NAMES,
            *uapi.IORING_OPS,
            *uapi.IOSQE_FLAG_NAMES,
            "KEvent",
            "Sqe",
            "True",
            "False",
            "None",
            "help",
            "save",
        ]
    )
)


class VocabularySuggester(Suggester):
    """Completes the word before the cursor from `WORDS` and the session's bound names."""

    def __init__(self, bound: Callable[[], Iterable[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.bound = bound

    async def get_suggestion(self, value: str) -> str | None:
        """`value` completed, or None. O(vocabulary)."""
        found = _WORD.search(value)
        if found is None:
            return None
        word = found.group()
        for candidate in (*WORDS, *self.bound()):
            if candidate.startswith(word) and candidate != word:
                return value + candidate[len(word) :]
        return None


class CallInput(Input):
    """An `Input` with the lines entered before under ↑ and ↓."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Earlier line", show=False, id="sandbox-history-back"),
        Binding("down", "history(1)", "Later line", show=False, id="sandbox-history-forward"),
    ]

    def __init__(self, bound: Callable[[], Iterable[str]], *, id: str | None = None) -> None:
        super().__init__(
            placeholder="a call, e.g. a, b = socketpair()   (help: every call)",
            suggester=VocabularySuggester(bound),
            max_length=MAX_LINE,
            select_on_focus=False,
            id=id,
        )
        self.refused: tuple[int, str] | None = None
        """The column and description of a control character the value held before it was
        made visible (see `validate_value`); None once the line is edited."""
        self.history: list[str] = []
        self._index = 0  #: where ↑/↓ are in `history` (its length: the line being typed)
        self._draft = ""  #: the line being typed when ↑ was first pressed

    def validate_value(self, value: str) -> str:
        """A pasted or set control character never reaches the terminal: the value shows it
        in its visible ``cat -v`` form (``^[``), and `refused` says which it was and where, for
        the message when the line is entered."""
        index = control_index(value)
        if index is None:
            self.refused = None
            return value
        self.refused = (index + 1, describe_character(value[index]))
        return safe_text(value)

    def remember(self, line: str) -> None:
        """Add `line` to the history (not twice in a row) and go back to a new line."""
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._index = len(self.history)
        self._draft = ""

    def action_history(self, delta: int) -> None:
        """Show the line `delta` steps back (-1) or forward (+1) in the history."""
        target = max(0, min(self._index + delta, len(self.history)))
        if target == self._index:
            return
        if self._index == len(self.history):
            self._draft = self.value
        self._index = target
        self.value = self.history[target] if target < len(self.history) else self._draft
        self.cursor_position = len(self.value)
