"""``--headless`` prints without rich's layout where none is needed (`tui.render.lines`), and
summarises the picture of a long fd table: the page must read exactly as rich would print it,
and a step's picture must cost what the step touched, not what the table holds."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.text import Text

from simulator.kernel import ModelKernel
from simulator.scenario.loader import load_scenario, parse_scenario
from simulator.scenario.runner import Runner
from tui.headless import step_fds
from tui.render.lines import TRAILING, Line, LineWriter, wrap_plain
from tui.render.model_state import SHOWN_ROWS, ModelStateView
from tui.render.safe import Neutralised
from tui.render.step import StepView

ROOT = Path(__file__).parent.parent
SHIPPED = [*sorted((ROOT / "scenarios").glob("*.toml")), ROOT / "tests/golden/play-headless.toml"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def pictures(path: Path) -> list[RenderableType]:
    """What ``--headless`` prints for each step of `path`, model only."""
    out: list[RenderableType] = []
    with Runner(load_scenario(path)) as runner:
        for record in runner:
            model = runner.model
            assert isinstance(model, ModelKernel)
            state = ModelStateView(model, runner.bindings, None, step_fds(record, runner.bindings))
            out.append(StepView(record, len(runner.steps), state))
    return out


def by_rich(console: Console, renderable: RenderableType) -> str:
    with console.capture() as captured:
        console.print(Neutralised(renderable))
    return TRAILING.sub(r"\1", captured.get())


def by_writer(console: Console, renderable: RenderableType) -> str:
    out = io.StringIO()
    LineWriter(console, out).write(renderable)
    return out.getvalue()


def same_text(path: Path, width: int) -> None:
    """Up to 24 steps of `path`, spread over it (rich takes ~50 ms a picture)."""
    console = Console(width=width, no_color=True, highlight=False, emoji=False)
    steps = pictures(path)
    for number in range(0, len(steps), -(-len(steps) // 24)):
        picture = steps[number]
        assert by_writer(console, picture) == by_rich(console, picture), (path.name, number)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_writer_prints_what_rich_prints(path: Path) -> None:
    """Every step of every shipped scenario: the same text, character for character."""
    same_text(path, 100)


def test_on_a_narrow_page_the_writer_hands_what_wraps_to_rich() -> None:
    same_text(ROOT / "tests/golden/play-headless.toml", 36)
    same_text(ROOT / "scenarios/kqueue-flags.toml", 30)


def test_in_colour_the_writer_prints_the_same_characters() -> None:
    console = Console(
        width=80, force_terminal=True, color_system="256", highlight=False, emoji=False
    )
    plain = Console(width=80, no_color=True, highlight=False, emoji=False)
    for picture in pictures(ROOT / "tests/golden/play-headless.toml"):
        coloured = by_writer(console, picture)
        assert "\x1b[" in coloured
        text = TRAILING.sub(r"\1", ANSI.sub("", coloured))
        assert text == by_rich(plain, picture)


def test_a_control_character_left_in_a_picture_is_made_visible() -> None:
    console = Console(width=60, no_color=True)
    hostile = Text("title \x1b]0;owned\x07 \x9b2J")
    text = by_writer(console, hostile)
    assert text == "title ^[]0;owned M-^[2J\n" == by_rich(console, hostile)  # rich drops BEL


def growing(n: int) -> str:
    steps = ['[[step]]\ndo = "epoll_create"\nas = "ep"\n']
    for i in range(n):
        steps.append(f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n')
        steps.append(
            f'[[step]]\ndo = "epoll_ctl"\nargs = {{ epfd = "ep", op = "ADD", fd = "a{i}", '
            'events = ["IN"] }\n'
        )
    steps.append('[[step]]\ndo = "send"\nargs = { fd = "b0", nbytes = 3 }\n')
    return f'[scenario]\ntitle = "grow"\n[model]\nnofile = {2 * n + 64}\n' + "\n".join(steps)


def test_past_a_screenful_a_step_shows_its_own_rows_and_the_end_shows_everything() -> None:
    path = ROOT / "tests" / ".headless-lines-grow.toml"
    path.write_text(growing(60))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tui", "play", str(path), "--headless", "--no-live"],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.unlink()
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.split("\nstep ")
    early, late, last = blocks[3], blocks[101], blocks[-1]
    # A small table is drawn whole, as before.
    assert "      0          stdin       1" in early and "this step's rows" not in early
    # A long one: the rows of what the step named and returned, and its epoll in one line.
    assert late.startswith("101/122: model only")  # epoll_ctl(ep, ADD, a49)
    assert "(this step's rows)" in late and "stdin" not in late
    assert re.search(r"^\s+3 ep\s+epoll3", late, re.MULTILINE)
    assert re.search(r"^\s+102 a49\s+unix", late, re.MULTILINE)
    assert "interest tree of ep:3  50 items, drawn after the last step" in late
    # The last step (a send on b0) shows b0's row; then the whole model, once.
    assert re.search(r"^\s+5 b0\s+unix2", last, re.MULTILINE)
    final = last.split("the model after step 122\n", 1)[1]
    assert "      0          stdin       1" in final
    assert f"… {124 - SHOWN_ROWS:,} more rows" in final
    assert "interest tree of ep:3  60 items\n" in final
    assert "rdllist  head ⇄  a0:4  ⇄ head" in final
    assert final.rstrip().endswith(
        "122 steps: 0 agree, 0 diverge, 0 expectation failed, 122 model only"
    )


class CountingModel:
    """The real model, counting the descriptors a picture asks about."""

    def __init__(self, model: ModelKernel) -> None:
        self.model = model
        self.asked: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)

    def file_at(self, fd: int) -> object:
        self.asked.append(fd)
        return self.model.file_at(fd)

    def fd_rows(self, fds: Iterable[int]) -> object:
        fds = list(fds)
        self.asked += fds
        return self.model.fd_rows(fds)

    def open_fds(self) -> list[int]:
        raise AssertionError("a summarised picture never walks the table")


@pytest.mark.parametrize("last", [-1, -2])  # a send on b0; an epoll_ctl (its epoll too)
def test_a_summarised_picture_asks_only_about_the_steps_descriptors(last: int) -> None:
    """By the writer and in one pass (`ModelStateView.plain_lines`) alike."""
    text = growing(3000).replace("nofile = 6064", "nofile = 7000")
    scenario = parse_scenario(text, "grow.toml")
    with Runner(scenario, ModelKernel, checkpoint_every=10**6) as runner:
        record = list(runner)[last]
        model = runner.model
        assert isinstance(model, ModelKernel)
        counting = CountingModel(model)
        view = ModelStateView(counting, runner.bindings, None, step_fds(record, runner.bindings))  # type: ignore[arg-type]
        console = Console(width=100, no_color=True)
        text = by_writer(console, view)
        assert len(counting.asked) <= 4, counting.asked
        counting.asked.clear()
        lines = view.plain_lines(100)
        assert lines is not None
        assert len(counting.asked) <= 4, counting.asked
    assert view.summarised
    assert "(this step's rows)" in text
    assert "".join(line.rstrip(" ") + "\n" for line in lines) == text
    assert ("b0 " if last == -1 else "a2999 ") in text


def test_a_printers_rows_are_what_the_snapshots_say() -> None:
    """`Observable.fd_rows` reads the model's table as `file_at` does, free numbers too."""
    model = ModelKernel()
    a, b = model.socketpair()
    ep = model.epoll_create()
    kq = model.kqueue()
    model.send(b, 7)
    model.dup(a)
    model.close(b)
    fds = list(range(model.highest_fd() + 3))
    rows = model.fd_rows(fds)
    assert rows[b] is None and rows[-1] is None
    for fd, row in zip(fds, rows, strict=True):
        snap = model.file_at(fd)
        expected = None if snap is None else (snap.label, snap.kind, snap.refs, snap.queued)
        assert row == expected
    assert rows[a] == ("unix1", "unix", 2, 7)  # dup'ed, 7 bytes queued
    assert [row[1] if row else None for row in (rows[ep], rows[kq])] == ["epoll", "kqueue"]


def instances_past_a_screenful() -> str:
    """A table past `SHOWN_ROWS` rows whose steps touch epolls (a ready list of 20), a
    kqueue, an io_uring and a dup'ed epoll: each summarised step has instance lines."""
    steps = ['[[step]]\ndo = "epoll_create"\nas = "ep"\n', '[[step]]\ndo = "kqueue"\nas = "kq"\n']
    steps.append('[[step]]\ndo = "io_uring_setup"\nargs = { entries = 4 }\nas = "ring"\n')
    for i in range(40):
        steps.append(f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n')
        steps.append(
            f'[[step]]\ndo = "epoll_ctl"\nargs = {{ epfd = "ep", op = "ADD", fd = "a{i}", '
            'events = ["IN"] }\n'
        )
        if i < 20:
            steps.append(f'[[step]]\ndo = "send"\nargs = {{ fd = "b{i}", nbytes = 1 }}\n')
    steps.append(
        '[[step]]\ndo = "kevent"\nargs = { kq = "kq", changes = [{ ident = "a1", '
        'filter = "READ", flags = ["ADD"] }], max_events = 0 }\n'
    )
    steps.append(
        '[[step]]\ndo = "io_uring_submit"\nargs = { ring = "ring", sqes = [{ op = "RECV", '
        'fd = "a30", nbytes = 100, user_data = 1 }] }\n'
    )
    steps.append('[[step]]\ndo = "dup"\nargs = { fd = "ep" }\nas = "ep2"\n')
    steps.append('[[step]]\ndo = "epoll_ctl"\nargs = { epfd = "ep2", op = "DEL", fd = "a3" }\n')
    return '[scenario]\ntitle = "instances"\n[model]\nnofile = 400\n' + "\n".join(steps)


@pytest.mark.parametrize("width", [40, 100])
def test_a_summary_with_instances_prints_in_one_pass(width: int) -> None:
    """Past a screenful, a step touching an epoll, a kqueue or an io_uring prints in one
    pass (its line and an epoll's ready list, wrapped as rich wraps them), the same
    characters as the writer; an io_uring is summarised in a line, not drawn."""
    console = Console(width=width, no_color=True, highlight=False, emoji=False)
    seen = []
    with Runner(parse_scenario(instances_past_a_screenful(), "i.toml")) as runner:
        for record in runner:
            model = runner.model
            assert isinstance(model, ModelKernel)
            state = ModelStateView(model, runner.bindings, None, step_fds(record, runner.bindings))
            view = StepView(record, len(runner.steps), state)
            mine, writer = plain_or_writer(console, view)
            assert mine is None or mine == writer, record.number
            # (A whole picture with a ring's is rich's to lay out; at 40 columns so is a
            # cost that takes two lines, in a grid.)
            if state.summarised and (width == 100 or "cost" not in writer):
                assert mine is not None, record.number
                seen.append(mine)
    assert len(seen) > (20 if width == 100 else 10)
    joined = "".join(seen).replace("\n  ", " ")  # (wrapped lines joined)
    assert "⇄ … 4 more ⇄ head" in joined  # 20 ready, 16 drawn
    if width == 100:
        assert " kq:4 knotes  1, drawn after the last step\n" in joined
        assert " ring:5 (io_uring)  SQ 0 queued, CQ 0 to reap, 1 in flight, drawn" in joined


TEXTS = [
    "registered: a0:4 IN, a1:6 IN|ET, a2:8 OUT, … 12 more",
    "rdllist  head ⇄  a0:4  ⇄  a1:6  ⇄  a2:8  ⇄ … 9 more ⇄ head",
    "    4 a0       unix1       1 3 B",
    "  leading spaces, then   runs   of spaces  and a trailing one ",
    "wide 漢字漢字 words 漢字 and narrow ones",
    "",
    "x" * 50,  # a word longer than the line: rich folds it, not ours
    "a\ttab",
    "new\nline",
]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_a_plain_wrap_is_riches(text: str) -> None:
    """`wrap_plain` against rich's own wrap at every width: the same lines, or None."""
    for width in range(2, 70):
        console = Console(width=width + 2, no_color=True, highlight=False, emoji=False)
        wrapped = wrap_plain(text, width)
        if wrapped is None:  # (a word, its leading spaces included, longer than the line)
            words = re.findall(r"\s*\S+", text)
            assert not text.isprintable() or max(cell_len(word) for word in words) > width
            continue
        with console.capture() as captured:
            console.print(Padding(Text(text), (0, 0, 0, 2)))
        rich = TRAILING.sub(r"\1", captured.get())
        assert "".join(("  " + line).rstrip(" ") + "\n" for line in wrapped) == rich, width


LINES = [
    Line("plain"),
    Line("styled", "bold"),
    Line("  model  [a0, b0]", "", ((0, 7, "dim"),)),
    Line("EAGAIN  Resource temporarily unavailable", "magenta", ((6, 40, "dim"),)),
    Line("… 9,998 other rows (the table is drawn after the last step)", "dim"),
    Line("wide 漢字漢字 " * 9),  # fits by length, not by cells: rich wraps it
    Line("x" * 150, "bold"),  # too long: wrapped by rich
    Line("tab\there"),
    Line("two\nlines", "", ((0, 5, "red"),)),
    Line("bell \x07 escape \x1b]0;owned\x07 csi \x9b2J", "bold"),
    Line("trailing spaces   ", "", ((0, 8, "dim"),)),
    Line(""),
]


@pytest.mark.parametrize("line", LINES, ids=repr)
def test_a_line_prints_what_its_text_prints(line: Line) -> None:
    """`Line` is the writer's fast path: the same characters as its `Text` gives, in colour
    too, and control characters neutralised as for a `Text`."""
    plain = Console(width=60, no_color=True, highlight=False, emoji=False)
    colour = Console(
        width=60, force_terminal=True, color_system="256", highlight=False, emoji=False
    )
    for console in (plain, colour):
        assert by_writer(console, line) == by_writer(console, line.__rich__())
    assert by_writer(plain, line) == by_rich(plain, line)
    assert "\x1b" not in by_writer(plain, line) and "\x07" not in by_writer(plain, line)


def plain_or_writer(console: Console, view: StepView) -> tuple[str | None, str]:
    """What `StepView.plain` makes of `view` (None: it hands it to the writer), and what the
    writer prints."""
    return view.plain(console.width, console.options.ascii_only), by_writer(console, view)


@pytest.mark.parametrize("width", [30, 100])
def test_a_step_printed_in_one_pass_is_what_the_writer_prints(width: int) -> None:
    """`StepView.plain` (``--headless`` without colour) against the writer: every step of
    every shipped scenario, of a long table (where it prints most steps), and of steps whose
    text needs neutralising or wrapping (where it must hand them over)."""
    console = Console(width=width, no_color=True, highlight=False, emoji=False)
    path = ROOT / "tests" / f".headless-lines-plain-{width}.toml"
    path.write_text(growing(40))
    printed = 0
    try:
        for source in [*SHIPPED, path]:
            for view in pictures(source):
                assert isinstance(view, StepView)
                # The writer only where there is something to compare it with: at 30 columns
                # nearly every step is handed over, and rich wrapping them was 90% of the time.
                mine = view.plain(console.width, console.options.ascii_only)
                if mine is not None:
                    assert mine == by_writer(console, view), (source.name, view.record.number)
                    printed += 1
    finally:
        path.unlink()
    if width == 100:  # (at 30 the long table's "… N other rows" wraps: all handed over)
        assert printed > 5  # the long table's socketpair steps: the one-pass path is taken
    # A call, a note and an answer that the writer neutralises or wraps: handed over.
    hostile = '[scenario]\ntitle = "t"\n[[step]]\ndo = "socketpair"\nas = ["a", "b"]\n'
    long_name = "x" * 31
    hostile += f'[[step]]\ndo = "socketpair"\nas = ["{long_name}", "b2"]\n'
    with Runner(parse_scenario(hostile, "t.toml")) as runner:
        views = [StepView(record, len(runner.steps)) for record in runner]
    for view in views:
        mine, writer = plain_or_writer(console, view)
        assert mine is None or mine == writer
    narrow = Console(width=20, no_color=True, highlight=False, emoji=False)
    assert plain_or_writer(narrow, views[1])[0] is None  # the answer wraps at 20
