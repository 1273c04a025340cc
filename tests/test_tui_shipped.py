"""Every shipped scenario plays in the app: every frame of every step can be drawn, every
question can be asked, and every animation frame shows a state the model passed through (model
only, so it runs anywhere). That each opens in the player is checked with its layout, in
tests/test_tui_layout.py (one app per scenario for both)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.text import Text

from simulator.kernel.trace import TraceKind
from simulator.scenario import load_scenario
from simulator.scenario.library import scenario_files, shipped_dir
from tests.tui_support import picture_text
from tui.app import make_app
from tui.frame import Frame, build_frame
from tui.predict import question_for
from tui.render.rbtree_art import draw_tree
from tui.screens.player import PlayerScreen
from tui.session import PlaySession, Prediction
from tui.widgets.fd_table import FdTable
from tui.widgets.interest_tree import InterestTree
from tui.widgets.lines import LinesView
from tui.widgets.ready_list import ReadyList
from tui.widgets.trace_list import TraceList

SHIPPED = shipped_dir()
FILES = scenario_files([SHIPPED])[0] if SHIPPED is not None else []


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_every_step_can_be_drawn_and_asked(path: Path) -> None:
    session = PlaySession(load_scenario(path), path, live=False)
    frame: Frame | None = None
    for position in range(session.total + 1):
        session.seek(position)
        frame = build_frame(session)
        for picture in (frame.live, frame.chain, frame.queues, frame.nic, frame.calls, frame.cost):
            if picture is not None:
                picture_text(picture, width=90)
        if frame.shape is not None:
            draw_tree(frame.shape, 60, path=frame.path)
        record = session.record()
        if record is not None:
            question = question_for(record, predict_mode=True)
            if question is not None:
                assert question.choices and all(Text(choice) for choice in question.choices)


_COUNT = re.compile(r"  (\d[\d,]*) items?")
_DOT = re.compile(r"(\d+)[)\]]? ?•")


def _lines(view: LinesView) -> list[str]:
    width = max(8, view.scrollable_content_region.width)
    return [view.make_line(i, width).plain for i in range(view.line_count())]


def _queued(fds: FdTable) -> dict[str, int]:
    """File label -> bytes queued, from the fd table's rows as drawn."""
    queued: dict[str, int] = {}
    for line in _lines(fds)[4:]:
        parts = line.split()
        if len(parts) >= 5 and parts[-1] == "B" and parts[0].isdigit():
            queued[parts[-4]] = int(parts[-2].replace(",", ""))  # fd [name] file refs N B
    return queued


def _check_agreement(screen: PlayerScreen, where: str) -> dict[str, int]:
    """The panels of the frame on screen agree with each other (issue 8.18)."""
    tree = _lines(screen.query_one(InterestTree))
    count = _COUNT.search(tree[0]) if tree else None
    if count is not None:
        items = int(count.group(1).replace(",", ""))
        empty = any("(empty" in line for line in tree)
        assert empty == (items == 0), f"{where}: tree says {tree[0]!r} and {tree[1:]}"
    ready = screen.query_one(ReadyList)
    if count is not None and ready.frame is not None and ready.frame.chain is not None:
        chain = ready.frame.chain
        complete_tree = not any("more nodes" in line for line in tree)
        if complete_tree and chain.total == len(chain.nodes):
            drawn = picture_text(ready.picture(ready.frame, ready.event)).splitlines()[0]
            listed = {int(m) for m in re.findall(r"(\d+)\s+⇄", drawn.replace("head ⇄", ""))}
            dotted = {int(m) for line in tree[1:] for m in _DOT.findall(line)}
            # ep_remove erases an item from the tree before it unlinks it from the ready
            # list, so a listed item may be missing from the tree for a micro-step.
            shape = screen.query_one(InterestTree).current_shape()
            assert shape is not None
            in_tree = {fd for _, fd in shape.nodes}
            assert dotted == listed & in_tree, f"{where}: ready dots {dotted}, {drawn!r}"
    return _queued(screen.query_one(FdTable))


def _smallest(path: Path) -> dict[str, str]:
    """A template's integer knobs at their minimum (choices keep their default): the same
    steps and code paths as at the default, with fewer of each repeated step."""
    params = load_scenario(path).params
    return {name: str(param.min) for name, param in params.items() if param.min is not None}


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_every_animation_frame_is_a_state_the_model_passed_through(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At every micro-step of every step of every shipped scenario (a template's at its
    smallest knobs: each micro-step costs a redraw; the default-size run is drawn and asked
    above, and laid out in tests/test_tui_layout.py), the panels on screen agree."""
    # Issue 8.18: mid-step frames mixed the state before, during and after the step (a tree
    # of "1 item" drawn "(empty)", a ready dot on an item the ready list did not hold, bytes
    # in the fd table while the NIC lane was still at tx). Every frame the animation shows,
    # at every step of every shipped scenario, must have panels that agree; and bytes may
    # only appear in a socket's queue at a micro-step that queued them (`sock.queue`).
    monkeypatch.setenv("MUXLAB_DATA_DIR", str(tmp_path))
    app = make_app(path, live=False, animate=True, params=_smallest(path))
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        session = screen.session
        small = _smallest(path)
        assert {name: str(session.scenario.values[name]) for name in small} == small
        for index in range(session.total):
            session.predict(Prediction(index, None, None, ()))  # no question stops a step
        await pilot.press("minus", "minus")
        for position in range(session.total):
            before = _check_agreement(screen, f"{path.stem} at rest {position}")
            screen.go(position + 1, single=True)
            frame = screen.frame
            assert frame is not None and frame.position == position + 1
            seen = -1
            while screen.animating:
                micro = screen.query_one(TraceList).micro
                assert micro is not None
                where = f"{path.stem} step {position + 1} micro-step {micro + 1}"
                queued = _check_agreement(screen, where)
                for label, count in queued.items():
                    if count > before.get(label, 0):
                        queued_here = [
                            event
                            for event in frame.trace[seen + 1 : micro + 1]
                            if event.kind is TraceKind.SOCK_QUEUE and event.where == label
                        ]
                        assert queued_here, f"{where}: {label} shows {count} B, none queued yet"
                before, seen = queued, micro
                screen.animation.tick()  # what the animation's timer does
            _check_agreement(screen, f"{path.stem} after step {position + 1}")


def test_red_and_black_nodes_differ_without_colour() -> None:
    # Issue 8.19: red and black nodes differed only by their background colour, which a
    # colour-blind learner or a monochrome terminal cannot see.
    from tui.render.rbtree_art import ShapeNode, TreeShape

    shape = TreeShape(
        root=(1, 5),
        nodes={
            (1, 5): ShapeNode((1, 5), "b:5", red=False, left=(1, 3)),
            (1, 3): ShapeNode((1, 3), "a:3", red=True),
        },
        size=2,
    )
    text = "\n".join(line.plain for line in draw_tree(shape, 40))
    assert "[b:5]" in text and "(a:3)" in text


def test_a_ready_dot_is_never_cut_off_nor_drawn_over() -> None:
    # Issue 15: at 140x44 the ready dot of the right-most deep node (`conn:12`) fell past the
    # line's end, and a ready node's dot could be overwritten by its right neighbour's label:
    # the label was fitted to its share without the dot's column. A tree deep to the right
    # (seven ADDs in fd order), every node ready, at every width from the narrowest.
    from tui.render.rbtree_art import ShapeNode, TreeShape

    links = {5: (4, 7), 7: (6, 9), 9: (8, 12)}
    nodes = {
        (1, fd): ShapeNode(
            (1, fd),
            f"conn:{fd}",
            red=fd in (7, 8, 12),
            left=(1, links[fd][0]) if fd in links else None,
            right=(1, links[fd][1]) if fd in links else None,
            ready=True,
        )
        for fd in (4, 5, 6, 7, 8, 9, 12)
    }
    shape = TreeShape(root=(1, 5), nodes=nodes, size=7)
    for width in range(24, 141):
        lines = [line.plain for line in draw_tree(shape, width)]
        assert all(len(line) <= width for line in lines)
        text = "\n".join(lines)
        # Each node shows whole (its label or its fd, in brackets, or its colour's mark) and
        # its dot right after it.
        shown = re.findall(r"[(\[]?(?:conn:)?(\d+)[)\]]?•|([●■])•", text)
        assert len(shown) == 7 and text.count("•") == 7, f"width {width}:\n{text}"
        numbered = {int(fd) for fd, _ in shown if fd}
        assert numbered <= {4, 5, 6, 7, 8, 9, 12}, f"width {width}:\n{text}"
        assert len(numbered) == len([fd for fd, _ in shown if fd]), f"width {width}:\n{text}"
