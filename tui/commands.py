"""The command palette (Ctrl+P): the keys of the screen it was opened on, the lessons, and "jump
to step N".

A screen's keys are declared once, as `PaletteBinding`s in its ``BINDINGS``: the footer shows
the binding's short description, the palette its `title`, with its ``tooltip`` as the help
line (`binding_commands`, given to Textual by `MuxlabApp.get_system_commands`). A command runs
its binding's action, so the screen's ``check_action`` rules both: behind the player's
"terminal too small" message no player command is offered, and one chosen before the terminal
shrank does nothing when it runs (like the player's keys). Typing a number offers "Jump to
step N" directly; everything else is fuzzy-matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

from tui.lessons import catalogue
from tui.render.safe import safe_text

Command = tuple[str, Callable[[], object], str]


@dataclass(frozen=True)
class PaletteBinding(Binding):
    """A key binding that is also a command of the palette, named `title` there."""

    title: str = ""
    """The command's name in the palette (the footer shows the shorter ``description``)."""


def binding_commands(app: App[Any], screen: Screen[Any]) -> Iterator[SystemCommand]:
    """The palette commands of `screen`'s `PaletteBinding`s whose action may run now."""
    for binding in screen.BINDINGS:
        if not isinstance(binding, PaletteBinding):
            continue
        namespace, _, action = binding.action.rpartition(".")
        target: DOMNode = app if namespace == "app" else screen
        if target.check_action(action, ()):
            yield SystemCommand(
                binding.title, binding.tooltip, partial(screen.run_action, binding.action)
            )


def _too_small(screen: object) -> bool:
    """Whether `screen` is a player showing its "terminal too small" message."""
    from tui.screens.player import PlayerScreen

    return isinstance(screen, PlayerScreen) and screen.has_class("-tiny")


def _unless_too_small(screen: object, callback: Callable[[], object]) -> None:
    if not _too_small(screen):
        callback()


class MuxlabCommands(Provider):
    """The lessons to play, and "Jump to step N" in the player (the keys' commands come from
    `binding_commands`)."""

    def _commands(self) -> list[Command]:
        from tui.app import MuxlabApp

        app = self.app
        commands: list[Command] = []
        if isinstance(app, MuxlabApp):
            for topic, lessons in catalogue(app.options.lessons_dir):
                for lesson in lessons:
                    if lesson.error is None:
                        commands.append(
                            (
                                f"Play: {safe_text(lesson.title)}",
                                partial(app.open_scenario, lesson.path),
                                f"{topic} · {lesson.steps_text}",
                            )
                        )
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        from tui.screens.player import PlayerScreen

        screen = self.screen
        number = re.search(r"\d+", query)
        if number is not None and isinstance(screen, PlayerScreen) and not _too_small(screen):
            step = min(int(number.group()), screen.session.total)
            yield Hit(
                1.0,
                f"Jump to step {step}",
                partial(_unless_too_small, screen, partial(screen.jump_to, step)),
                help=f"of {screen.session.total}",
            )
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
