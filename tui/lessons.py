"""The lesson catalogue: the shipped scenarios, grouped by topic, with their summaries.

A scenario's topic comes from its tags and ``mechanism``: anything tagged ``limits`` is about
limits; otherwise epoll, poll and select, or kqueue. A shipped file that does not load still
appears (with its error), so a broken lesson is visible instead of silently missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.scenario import ScenarioError, load_scenario
from simulator.scenario.library import scenario_files, shipped_dir

#: Topics in menu order.
TOPICS = ("epoll", "poll and select", "kqueue", "limits", "other")


@dataclass(frozen=True)
class Lesson:
    """One scenario file as the menu lists it."""

    path: Path
    title: str
    summary: str = ""
    topic: str = "other"
    steps: int = 0
    error: str | None = None  #: why it cannot be played


def topic_of(mechanism: str | None, tags: list[str]) -> str:
    if "limits" in tags:
        return "limits"
    if mechanism == "epoll":
        return "epoll"
    if mechanism in ("poll", "select"):
        return "poll and select"
    if mechanism == "kqueue":
        return "kqueue"
    return "other"


def load_lesson(path: Path) -> Lesson:
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        return Lesson(path, path.stem, topic="other", error=exc.report())
    meta = scenario.scenario
    return Lesson(
        path,
        meta.title,
        (meta.summary or "").strip(),
        topic_of(meta.mechanism, list(meta.tags)),
        len(scenario.steps),
    )


def catalogue(folder: Path | None = None) -> list[tuple[str, list[Lesson]]]:
    """(topic, lessons) in `TOPICS` order, lessons by file name; empty topics left out."""
    folder = folder if folder is not None else shipped_dir()
    if folder is None:
        return []
    files, _ = scenario_files([folder])
    lessons = [load_lesson(path) for path in files]
    grouped = [(topic, [one for one in lessons if one.topic == topic]) for topic in TOPICS]
    return [(topic, members) for topic, members in grouped if members]


__all__ = ["TOPICS", "Lesson", "catalogue", "load_lesson", "topic_of"]
