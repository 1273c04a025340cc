"""How each verdict is shown, everywhere: one row per `Verdict` (the status line's counts, the
real kernel's panel, a step printed by ``--headless``, the timeline's cells, the summary).

Every label carries a mark or a word, never only a colour, so a verdict reads the same on a
monochrome terminal, in a log and through a screen reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulator.scenario import Verdict


@dataclass(frozen=True)
class VerdictLook:
    """The words, marks and styles of one verdict."""

    word: str  #: in counts and summaries: ``3 agree, 1 diverge``
    mark: str  #: before the word on the status line and the real kernel's panel
    headline: str  #: a step printed for a log (``--headless``): the bad ones shout
    badge: str  #: the real kernel's panel, under the answer
    style: str  #: the colour of `headline`
    badge_style: str  #: the colour of `badge`
    cell: str  #: the colour of the verdict's cell on the timeline
    rank: int  #: which verdict a timeline cell standing for several steps shows (highest)

    @property
    def counted(self) -> str:
        """``✓ agree``: the mark and the word."""
        return f"{self.mark} {self.word}"


VERDICTS: Mapping[Verdict, VerdictLook] = {
    Verdict.AGREE: VerdictLook(
        word="agree",
        mark="✓",
        headline="agree",
        badge="✓ agree",
        style="green",
        badge_style="bold green",
        cell="green",
        rank=0,
    ),
    Verdict.DIVERGE: VerdictLook(
        word="diverge",
        mark="✗",
        headline="DIVERGE",
        badge="✗ DIVERGE",
        style="bold red",
        badge_style="bold white on red",
        cell="bold red",
        rank=3,
    ),
    Verdict.EXPECT_FAILED: VerdictLook(
        word="expectation failed",
        mark="!",
        headline="EXPECTATION FAILED",
        badge="! expectation failed",
        style="red",
        badge_style="bold red",
        cell="magenta",
        rank=2,
    ),
    Verdict.MODEL_ONLY: VerdictLook(
        word="model only",
        mark="◌",
        headline="model only",
        badge="◌ model only",
        style="yellow",
        badge_style="bold yellow",
        cell="yellow",
        rank=1,
    ),
}


def counts_text(counts: Mapping[Verdict, int], *, marks: bool = True, zeros: bool = False) -> str:
    """``6 ✓ agree, 1 ◌ model only`` (`marks`), or ``6 agree, 0 diverge, ...`` (`zeros`)."""
    return ", ".join(
        f"{n} {look.counted if marks else look.word}"
        for verdict, look in VERDICTS.items()
        if (n := counts.get(verdict, 0)) or zeros
    )


__all__ = ["VERDICTS", "VerdictLook", "counts_text"]
