"""The runner and ``--headless`` cost what a step does, not what the model holds (issue 10:
500 socket pairs in one epoll took 5 minutes, quadratic). No clock is read here: each test
checks the structural cause of a quadratic run (copies of the model, of the names, pictures
that walk every descriptor), on the real model and the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from simulator.kernel import ModelKernel
from simulator.scenario.loader import parse_scenario
from simulator.scenario.runner import _BASE_UNITS, STEPS_PER_COPY_UNIT, Runner
from tui.render.model_state import SHOWN_ROWS, ModelStateView
from tui.render.safe import Neutralised

ROOT = Path(__file__).parent.parent


def pairs_in_epoll(n: int) -> str:
    steps = ['[[step]]\ndo = "epoll_create"\nas = "ep"\n']
    for i in range(n):
        steps.append(f'[[step]]\ndo = "socketpair"\nas = ["a{i}", "b{i}"]\n')
        steps.append(
            f'[[step]]\ndo = "epoll_ctl"\nargs = {{ epfd = "ep", op = "ADD", fd = "a{i}", '
            'events = ["IN"] }\n'
        )
    head = f'[scenario]\ntitle = "{n} pairs"\n[model]\nnofile = {2 * n + 64}\n'
    return head + "\n".join(steps)


def sends(n: int) -> str:
    head = '[scenario]\ntitle = "sends"\n[[step]]\ndo = "socketpair"\nas = ["a", "b"]\n'
    return head + "".join(
        f'[[step]]\ndo = "send"\nargs = {{ fd = "b", nbytes = {1 + i % 7} }}\n' for i in range(n)
    )


def test_automatic_checkpoints_are_spaced_by_what_a_copy_costs() -> None:
    """Copying every 16 steps made a growing model quadratic: each checkpoint is now at least
    `STEPS_PER_COPY_UNIT` steps per descriptor the model holds after the previous one."""
    with Runner(parse_scenario(pairs_in_epoll(150), "pairs.toml"), ModelKernel) as runner:
        list(runner)
        positions = runner.checkpoints
        for before, at in pairwise(positions):
            model = runner.seek(at)
            assert isinstance(model, ModelKernel)
            units = _BASE_UNITS + model.fd_table().open
            assert at - before >= STEPS_PER_COPY_UNIT * units, positions


def test_a_model_of_constant_size_is_still_checkpointed_and_rewinds_exactly() -> None:
    def model_side(records: object) -> list[object]:
        # The note of a re-run step says it replayed "no live answer": compare the model's side.
        return [{k: v for k, v in r.to_json().items() if k != "note"} for r in records]  # type: ignore[attr-defined]

    text = sends(800)
    with Runner(parse_scenario(text, "sends.toml"), ModelKernel) as runner:
        fresh = model_side(runner)
        assert len(runner.checkpoints) > 2
        for target in (700, 300, 799, 1):
            runner.seek(target)
        runner.seek(0)
        again = model_side(runner)
    assert again == fresh


def test_rewinding_reruns_the_model_only_and_keeps_the_records() -> None:
    """A scenario that grows keeps only the step-0 checkpoint (a copy of a grown model costs more
    than re-running the steps that built it): a seek back re-runs the model from there, makes no
    new record, and leaves the model exactly as a fresh run to that step does."""
    text = pairs_in_epoll(120)
    with Runner(parse_scenario(text, "pairs.toml"), ModelKernel) as runner:
        list(runner)
        records = runner.records
        assert runner.checkpoints == (0,)
        model = runner.seek(101)
        assert isinstance(model, ModelKernel)
        assert model.calls == 101  # re-run from step 0: one model call a step
        assert all(a is b for a, b in zip(runner.records, records, strict=True))
        rewound = (model.fd_table(), model.interest_list(3, 1000), model.fds().keys())
    with Runner(parse_scenario(text, "pairs.toml"), ModelKernel) as fresh:
        fresh_model = fresh.seek(101)
        assert isinstance(fresh_model, ModelKernel)
        again = (
            fresh_model.fd_table(),
            fresh_model.interest_list(3, 1000),
            fresh_model.fds().keys(),
        )
    assert rewound == again


def test_a_record_keeps_its_names_without_copying_them() -> None:
    """Each record used to copy every name bound so far (O(names) a step); it now keeps a
    frozen view of them, which later steps do not change and nobody can change."""
    with Runner(parse_scenario(pairs_in_epoll(3), "pairs.toml"), ModelKernel) as runner:
        records = list(runner)
    first = records[1].live_names  # after the first socketpair (no live kernel: none bound)
    assert first.fds == {}
    with pytest.raises(TypeError):
        first.bind("x", 9)
    names = runner.bindings
    snap = names.snapshot()
    names.bind("late", 99)
    assert "late" not in snap.fds and names.fds["late"] == 99
    assert snap.fds == {k: v for k, v in names.fds.items() if k != "late"}


class CountingModel:
    """The real model, counting the descriptors a picture asks about."""

    def __init__(self, model: ModelKernel) -> None:
        self.model = model
        self.asked: list[int] = []
        self.listed = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)

    def file_at(self, fd: int) -> object:
        self.asked.append(fd)
        return self.model.file_at(fd)

    def open_fds(self) -> list[int]:
        self.listed += 1
        return self.model.open_fds()


def test_the_headless_picture_costs_what_it_shows() -> None:
    """With the instances given, a picture of a model holding 4,000 descriptors asks about
    the rows it draws and the instances, never walks the whole table."""
    from rich.console import Console

    model = ModelKernel(nofile=5000)
    ep = model.epoll_create()
    for _ in range(2000):
        model.socketpair()
    counting = CountingModel(model)
    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(Neutralised(ModelStateView(counting, None, [ep])))  # type: ignore[arg-type]
    text = console.export_text()
    assert counting.listed == 0
    assert len(counting.asked) <= SHOWN_ROWS + 2
    assert "interest tree of fd 3" in text
    assert f"… {model.highest_fd() + 1 - SHOWN_ROWS:,} more rows" in text


def test_play_headless_draws_every_epoll_of_a_large_table() -> None:
    """The instances ``--headless`` tracks are every epoll, wherever its number is."""
    text = pairs_in_epoll(40) + '\n[[step]]\ndo = "epoll_create"\nas = "late"\n'
    path = ROOT / "tests" / ".scaling-late-epoll.toml"
    path.write_text(text)
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
    last = done.stdout.rsplit("step 82/82", 1)[1]
    assert "interest tree of ep:3  40 items" in last
    assert "interest tree of late:84  0 items" in last
    assert "… 21 more rows" in last
