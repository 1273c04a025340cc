"""The command palette (Ctrl+P): every player control, the lessons, and "jump to step N".

Typing a number offers "Jump to step N" directly; everything else is fuzzy-matched. Behind the
player's "terminal too small" message no player command is offered, and one chosen before the
terminal shrank does nothing when it runs (like the player's keys).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.lessons import catalogue
from tui.render.safe import safe_text

Command = tuple[str, Callable[[], object], str]


def _too_small(screen: object) -> bool:
    """Whether `screen` is a player showing its "terminal too small" message."""
    from tui.screens.player import PlayerScreen

    return isinstance(screen, PlayerScreen) and screen.has_class("-tiny")


def _unless_too_small(screen: object, callback: Callable[[], object]) -> None:
    if not _too_small(screen):
        callback()


class MuxlabCommands(Provider):
    """Commands of the screen the palette was opened on, then the app's."""

    def _commands(self) -> list[Command]:
        from tui.app import MuxlabApp
        from tui.screens.player import PlayerScreen

        screen = self.screen
        commands: list[Command] = []
        if isinstance(screen, PlayerScreen) and not _too_small(screen):
            player_commands: list[Command] = [
                ("Step forward", screen.action_step_forward, "run the next step (→)"),
                ("Step back", screen.action_step_back, "rewind one step; no socket is touched (←)"),
                ("Play / pause", screen.action_toggle_play, "advance by itself (space)"),
                (
                    "Skip the animation",
                    screen.action_skip_animation,
                    "show the final state now (s)",
                ),
                ("Faster", screen.action_faster, "animation speed up (+)"),
                ("Slower", screen.action_slower, "animation speed down (-)"),
                ("Jump to the start", screen.action_jump_start, "before the first step (Home)"),
                ("Jump to the end", screen.action_jump_end, "after the last step (End)"),
                ("Jump to step…", screen.action_jump_to, "type a step number (j)"),
                ("Toggle predict mode", screen.action_toggle_predict, "predict every wait (p)"),
                ("Lesson text", screen.action_lesson_text, "the Markdown lesson beside it (t)"),
            ]
            commands += [
                (name, partial(_unless_too_small, screen, callback), help_text)
                for name, callback, help_text in player_commands
            ]
        app = self.app
        if isinstance(app, MuxlabApp):
            commands += [
                ("Lesson menu", app.action_lesson_menu, "all lessons and your progress (m)"),
                ("Open a scenario file…", app.action_open_scenario, "play any scenario (o)"),
            ]
            for topic, lessons in catalogue(app.options.lessons_dir):
                for lesson in lessons:
                    if lesson.error is None:
                        commands.append(
                            (
                                f"Play: {safe_text(lesson.title)}",
                                partial(app.open_scenario, lesson.path),
                                f"{topic} · {lesson.steps} steps",
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
