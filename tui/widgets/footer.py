"""The key bar at the bottom of every screen: Textual's `Footer`, recomposed only when the keys
it shows change.

Textual's footer answers every ``bindings_updated`` signal (a screen shown, a focus change,
``refresh_bindings``) by recomposing after the next refresh: it removes its keys and mounts a
`FooterKey` per binding again, each styled anew by the stylesheet, even when the keys are the
ones it already shows, and once per signal when several come before that refresh. Opening a
lesson sent four such signals, and the recomposes were about a sixth of the CPU the player took
to open (menu and player alike; one recompose per open remains for the knobs' keys).

This one keeps what its last compose showed (the shown bindings: key, action, description,
group, whether enabled, tooltip; and the command palette's key) and, after a refresh, recomposes
once, and only if that differs.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

# Not exported by textual.widgets: pyproject pins Textual to 8.2.x, and tests/test_tui_footer.py
# fails if the key's styling changes under us.
from textual.widgets._footer import FooterKey


class Footer(TextualFooter):
    """`textual.widgets.Footer`, drawing the same keys, recomposed only when they change."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: Hashable = None  # what the last compose drew; None before the first
        self._check_pending = False

    def compose(self) -> ComposeResult:
        self._shown = self._keys_shown()
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # Born with the footer's `compact`, as the binding (every key's but the
                # palette's) makes it on mount: else the key's own default (True) is styled
                # once more, with its class, and again without it when the binding sets it
                # (two stylesheet passes a key, at each compose; ~5-10% of the CPU the player
                # took to open).
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[object]) -> None:
        """As Textual's (the keys are ready; nothing while the app has no focus, or for a
        screen this footer is not on), but one check after the next refresh, however many
        signals come before it."""
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._check_pending = False
        if self.is_attached and self._keys_shown() != self._shown:
            await self.recompose()

    def _keys_shown(self) -> Hashable:
        """What `compose` draws from, read the way it reads it (O(bindings))."""
        if not self._bindings_ready:
            return None
        active = self.screen.active_bindings
        keys = tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
            for _node, binding, enabled, tooltip in active.values()
            if binding.show
        )
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, binding, enabled, tooltip = found
                palette = (binding.key, binding.description, enabled, tooltip)
        return keys, palette
