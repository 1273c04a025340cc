"""The sandbox in the app: a `PlaySession` whose steps are the lines the learner types.

The lines are kept by a `simulator.scenario.sandbox.Sandbox` (the engine ``muxlab sandbox
--headless`` uses), whose runner is this session's: a typed line becomes the next step of it
(`add`), and the player runs it like a lesson's step -- in a worker when the real kernel must
answer, animated, rewound by the checkpoints. A line typed after a rewind starts a new branch
on a fresh runner, which runs the lines kept again (the real kernel cannot go back).
"""

from __future__ import annotations

from simulator.scenario.callsyntax import ParsedLine
from simulator.scenario.challenge import Challenge
from simulator.scenario.format import Meta, ModelParams, Scenario
from simulator.scenario.runner import LiveFactory, ModelFactory, default_live_factory
from simulator.scenario.runner import default_model_factory as _default_model_factory
from simulator.scenario.sandbox import Sandbox
from tui.session import PlaySession

TITLE = "Sandbox"
SUMMARY = (
    "Type a call below and press Enter: the model and the real kernel both run it, as a "
    "lesson's step. For example `a, b = socketpair()`, then `ep = epoll_create()`, "
    "`epoll_ctl(ep, ADD, a, IN | ET)`, `send(b, 5)`, `epoll_wait(ep, 8, 0)`. "
    "`help` lists every call; `save FILE.toml` writes the session as a scenario."
)


class SandboxSession(PlaySession):
    """A session that grows a step per typed line (see the module docstring)."""

    growing = True

    def __init__(
        self,
        *,
        live: bool = True,
        model_factory: ModelFactory = _default_model_factory,
        live_factory: LiveFactory = default_live_factory,
        prestart: bool = False,
        challenge: Challenge | None = None,
    ) -> None:
        meta = Meta(title=TITLE, summary=SUMMARY, lesson=None)
        if challenge is not None:
            goal = challenge.challenge
            summary = f"{goal.goal.strip()}\n\n*Type `check` to see how far you are.*"
            meta = Meta(title=f"Challenge: {goal.title}", summary=summary, lesson=None)
        empty = Scenario.model_construct(
            scenario=meta,
            model=ModelParams(),
            steps=[],
        )
        super().__init__(
            empty,
            live=live,
            model_factory=model_factory,
            live_factory=live_factory,
            prestart=prestart,
        )
        self.sandbox = Sandbox(
            live=live,
            title=meta.title,
            model_factory=model_factory,
            live_factory=self._start_live,
            challenge=challenge,
        )

    def read(self, line: str) -> ParsedLine:
        """`line` read against the names bound before the position (raises `LineError`)."""
        return self.sandbox.read(line)

    def add(self, parsed: ParsedLine) -> int:
        """Make `parsed` the step after the position; returns the position that runs it."""
        kept = self.position
        runner = self.sandbox.add(parsed)
        if runner is not self.runner:  # the first line, or a new branch
            self.runner.close()
            self.runner = runner
            self._fdinfo.clear()
            self.predictions = {i: p for i, p in self.predictions.items() if i < kept}
        self.scenario = runner.scenario
        self._epoll_names = tuple(
            name
            for line in self.sandbox.lines
            if line.step.call.name == "epoll_create"
            for name in line.step.names
        )
        return len(self.sandbox.lines)

    def _lose_live(self, why: str) -> None:
        super()._lose_live(why)
        self.sandbox.adopt(self.runner)  # the lines go on, replayed then model only
