"""Checking many scenarios: run each in lockstep, report one line each and a summary.

This is ``muxlab check`` without the argument parsing, and what the test suite runs over the
shipped scenarios. A scenario that cannot be loaded or run is reported and counted, and the
others still run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from simulator.scenario.format import printable
from simulator.scenario.loader import ScenarioError, load_scenario
from simulator.scenario.runner import (
    LiveFactory,
    ModelFactory,
    Runner,
    ScenarioRunError,
    StepRecord,
    Verdict,
    default_live_factory,
    default_model_factory,
)

_LABELS = {
    Verdict.AGREE: "agree",
    Verdict.DIVERGE: "diverge",
    Verdict.EXPECT_FAILED: "expectation failed",
    Verdict.MODEL_ONLY: "model only",
}


@dataclass
class ScenarioResult:
    """How one scenario file came out."""

    path: Path
    counts: Counter[Verdict] = field(default_factory=Counter)
    bad_steps: list[StepRecord] = field(default_factory=list)
    error: str | None = None  #: why it could not be loaded or finished

    @property
    def steps(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> bool:
        return bool(
            self.error or self.counts[Verdict.DIVERGE] or self.counts[Verdict.EXPECT_FAILED]
        )

    def line(self) -> str:
        """``ok    path: 12 steps: 11 agree, 1 model only``; a scenario that could not be
        loaded or started shows only ``ERROR path`` above its error."""
        status = "ERROR" if self.error else "FAIL" if self.failed else "ok"
        counts = ", ".join(f"{n} {_LABELS[v]}" for v in Verdict if (n := self.counts[v]))
        # The path may come from walking a folder someone else filled: escape what it holds.
        text = f"{status:<5} {printable(str(self.path))}"
        if self.steps or not self.error:
            text += f": {self.steps} steps" + (f": {counts}" if counts else "")
        lines = [text]
        for record in self.bad_steps:
            lines.append(f"      step {record.number} {record.call}: {_LABELS[record.verdict]}")
            details = [*(record.diff or "").splitlines(), *record.expect_failures]
            lines += [f"        {d}" for d in details]
        if self.error:
            lines += [f"      {line}" for line in self.error.splitlines()]
        return "\n".join(lines)


@dataclass
class Summary:
    """All scenarios of one check."""

    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def counts(self) -> Counter[Verdict]:
        total: Counter[Verdict] = Counter()
        for result in self.results:
            total.update(result.counts)
        return total

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results)

    def line(self) -> str:
        """``N scenarios, S steps: A agree, D diverge, F expectation failed, M model only``."""
        c = self.counts
        text = (
            f"{len(self.results)} scenarios, {sum(c.values())} steps: "
            f"{c[Verdict.AGREE]} agree, {c[Verdict.DIVERGE]} diverge, "
            f"{c[Verdict.EXPECT_FAILED]} expectation failed, {c[Verdict.MODEL_ONLY]} model only"
        )
        errors = sum(1 for r in self.results if r.error)
        if errors:
            text += f"\n{errors} scenario{'s' if errors > 1 else ''} could not be checked"
        return text


def check_file(
    path: Path,
    *,
    live: bool = True,
    model_factory: ModelFactory = default_model_factory,
    live_factory: LiveFactory = default_live_factory,
    params: Mapping[str, str] | None = None,
) -> ScenarioResult:
    """Load and run one scenario (`params` set its knobs); never raises for a bad file or a
    broken run."""
    result = ScenarioResult(path)
    try:
        scenario = load_scenario(path, params)
    except ScenarioError as exc:
        result.error = exc.report()
        return result
    try:
        with Runner(scenario, model_factory, live_factory if live else None) as runner:
            for record in runner:
                result.counts[record.verdict] += 1
                if record.verdict in (Verdict.DIVERGE, Verdict.EXPECT_FAILED):
                    result.bad_steps.append(record)
    except ScenarioRunError as exc:
        result.error = str(exc)
    return result


def check_files(
    files: Sequence[Path],
    *,
    live: bool = True,
    out: TextIO | None = None,
    model_factory: ModelFactory = default_model_factory,
    live_factory: LiveFactory = default_live_factory,
    params: Mapping[str, str] | None = None,
) -> Summary:
    """Check every file in order, printing each result as it comes and then the summary."""
    summary = Summary()
    for path in files:
        result = check_file(
            path,
            live=live,
            model_factory=model_factory,
            live_factory=live_factory,
            params=params,
        )
        summary.results.append(result)
        if out is not None:
            print(result.line(), file=out, flush=True)
    if out is not None:
        print(summary.line(), file=out)
    return summary
