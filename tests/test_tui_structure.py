"""How the TUI is put together (issue 9 item 5): the palette is derived from the keys, verdicts
are shown from one table, dialogs share one stylesheet, and no private Textual method is
overridden."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from textual.app import App
from textual.command import CommandList
from textual.css.query import NoMatches

from simulator.scenario import Verdict
from tui.app import MuxlabApp, make_app
from tui.commands import PaletteBinding
from tui.screens.player import PlayerScreen
from tui.verdicts import VERDICTS

TUI = Path(__file__).resolve().parents[1] / "tui"
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "et-stall.toml"


def test_no_private_textual_method_is_overridden() -> None:
    # The app overrode `App._on_key` to hand keys typed in a burst after `j` to the jump
    # dialog; a public `on_key` handler does it now (test_keys_typed_right_after_j_...).
    for name, value in vars(MuxlabApp).items():
        if inspect.isfunction(value) and name.startswith("_") and not name.startswith("__"):
            assert not hasattr(App, name), name


def test_every_verdict_has_one_row_and_no_other_module_maps_verdicts() -> None:
    assert set(VERDICTS) == set(Verdict)
    assert len({look.rank for look in VERDICTS.values()}) == len(Verdict)
    mapping = re.compile(r"^\s*\(?Verdict\.[A-Z_]+\s*[:,]", re.MULTILINE)  # a table of verdicts
    offenders = [
        str(path.relative_to(TUI))
        for path in TUI.rglob("*.py")
        if path.name != "verdicts.py" and mapping.search(path.read_text())
    ]
    assert offenders == []


def test_dialog_styles_are_declared_once_in_the_stylesheet() -> None:
    sources = {path: path.read_text() for path in TUI.rglob("*.py")}
    assert not [p.name for p, text in sources.items() if "border: thick $accent" in text]
    assert (TUI / "app.tcss").read_text().count("border: thick $accent") == 1


def _palette(app: MuxlabApp) -> list[str]:
    try:
        commands = app.screen.query_one(CommandList)
    except NoMatches:
        return []
    prompts = (str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count))
    return [prompt.splitlines()[0] for prompt in prompts]


async def test_the_palette_offers_every_key_of_the_player(tmp_path: Path) -> None:
    titles = [b.title for b in PlayerScreen.BINDINGS if isinstance(b, PaletteBinding)]
    assert len(titles) == len(PlayerScreen.BINDINGS)  # every key is also a command
    # The knobs act only on a scenario with [params] (tests/test_tui_knobs.py); this one has none.
    knobs = {
        b.title
        for b in PlayerScreen.BINDINGS
        if isinstance(b, PaletteBinding) and b.id and b.id.startswith("knob-")
    }
    assert len(knobs) == 3
    titles = [title for title in titles if title not in knobs]
    app = make_app(SCENARIO, live=False, animate=False, data_dir=tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("ctrl+p")
        for _ in range(200):
            if set(titles) <= set(_palette(app)):
                break
            await pilot.pause(0.05)
        assert set(titles) <= set(_palette(app)), _palette(app)
