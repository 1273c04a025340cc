"""Lesson texts: every shipped scenario names one that exists, every lesson is used, and a
scenario naming a missing lesson is refused with a message that names the file and the field.

A lesson is looked up beside the scenario file first, then among the shipped lessons
(`simulator.scenario.library.lesson_path`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, load_scenario, parse_scenario
from simulator.scenario.library import (
    LessonError,
    lesson_path,
    lessons_dir,
    read_lesson,
    shipped_dir,
)
from tests.test_scenario_format import run_cli

_shipped, _lessons = shipped_dir(), lessons_dir()
assert _shipped is not None
assert _lessons is not None
SHIPPED: Path = _shipped
LESSONS: Path = _lessons
SHIPPED_FILES = sorted(SHIPPED.glob("*.toml"))
LESSON_FILES = sorted(LESSONS.glob("*.md"))

SCENARIO = """\
[scenario]
title = "A scenario with a lesson"
lesson = "{lesson}"

[[step]]
do = "socketpair"
as = ["a", "b"]
say = "Two ends."
"""


def test_the_checkout_has_lessons() -> None:
    assert Path(__file__).resolve().parents[1] / "docs" / "lessons" == LESSONS
    assert len(LESSON_FILES) >= 5


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[p.stem for p in SHIPPED_FILES])
def test_every_shipped_scenario_has_a_lesson_that_resolves(path: Path) -> None:
    lesson = load_scenario(path).scenario.lesson
    assert lesson is not None, f"{path.name} names no lesson"
    found = lesson_path(path, lesson)
    assert found is not None and found.is_file(), f"{path.name}: lesson {lesson} not found"
    assert found.suffix == ".md"


def test_every_lesson_is_referenced_by_a_shipped_scenario() -> None:
    used = {load_scenario(path).scenario.lesson for path in SHIPPED_FILES}
    unused = [p.name for p in LESSON_FILES if p.name not in used]
    assert not unused, f"lessons no shipped scenario points at: {unused}"


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=[p.stem for p in LESSON_FILES])
def test_lessons_name_only_scenarios_and_lessons_that_exist(lesson: Path) -> None:
    text = lesson.read_text(encoding="utf-8")
    assert text.startswith("# "), "a lesson starts with its title"
    for name in re.findall(r"`([\w-]+\.toml)`", text):
        assert (SHIPPED / name).is_file(), f"{lesson.name} mentions missing scenario {name}"
    for name in re.findall(r"`([\w-]+\.md)`", text):
        assert (LESSONS / name).is_file(), f"{lesson.name} mentions missing lesson {name}"


def test_a_missing_lesson_is_an_error_naming_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(SCENARIO.format(lesson="no-such-lesson.md"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    report = str(caught.value)
    assert f"{path}:3: field [scenario] lesson: lesson file 'no-such-lesson.md' not found" in report
    assert str(tmp_path) in report and str(LESSONS) in report


def test_validate_refuses_a_missing_lesson(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(SCENARIO.format(lesson="no-such-lesson.md"))
    status, out, err = run_cli("validate", str(path))
    assert status == 1
    assert "field [scenario] lesson" in out + err
    assert "no-such-lesson.md" in out + err
    assert "Traceback" not in out + err


def test_a_missing_lesson_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(SCENARIO.format(lesson="gone.md").replace('as = ["a", "b"]', 'as = "a"'))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    fields = [problem.field for problem in caught.value.problems]
    assert fields == ["as", "[scenario] lesson"]


def test_a_shipped_lesson_resolves_for_a_scenario_anywhere(tmp_path: Path) -> None:
    name = LESSON_FILES[0].name
    path = tmp_path / "mine.toml"
    path.write_text(SCENARIO.format(lesson=name))
    assert load_scenario(path).scenario.lesson == name
    assert lesson_path(path, name) == LESSONS / name


def test_a_lesson_beside_the_scenario_comes_first(tmp_path: Path) -> None:
    name = LESSON_FILES[0].name
    (tmp_path / name).write_text("# My own text\n")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "extra.md").write_text("# Extra\n")
    path = tmp_path / "mine.toml"
    assert lesson_path(path, name) == tmp_path / name
    assert lesson_path(path, "texts/extra.md") == tmp_path / "texts" / "extra.md"
    path.write_text(SCENARIO.format(lesson="texts/extra.md"))
    assert load_scenario(path).scenario.lesson == "texts/extra.md"


@pytest.mark.parametrize("lesson", ["", "../secret.md", "/etc/passwd", "a/../../b.md"])
def test_lesson_path_finds_nothing_outside(tmp_path: Path, lesson: str) -> None:
    assert lesson_path(tmp_path / "mine.toml", lesson) is None


def test_a_lesson_that_is_a_folder_is_refused_when_read(tmp_path: Path) -> None:
    # Once "finds nothing" (the lesson was silently absent); since issue 8 a lesson must be a
    # regular file, and saying so is clearer than showing no text.
    (tmp_path / "texts").mkdir()
    found = lesson_path(tmp_path / "mine.toml", "texts")
    assert found == (tmp_path / "texts").resolve()
    with pytest.raises(LessonError, match="regular file"):
        read_lesson(found)


def test_parse_scenario_without_a_file_checks_only_the_form() -> None:
    scenario = parse_scenario(SCENARIO.format(lesson="not-here.md"), "inline.toml")
    assert scenario.scenario.lesson == "not-here.md"
    with pytest.raises(ScenarioError, match=r"without '\.\.'"):
        parse_scenario(SCENARIO.format(lesson="../up.md"), "inline.toml")
