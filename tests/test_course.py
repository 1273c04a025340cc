"""The course (simulator.scenario.course): twelve chapters, every shipped lesson and challenge
placed in one, and challenge files told apart from scenarios wherever folders are expanded."""

from __future__ import annotations

from pathlib import Path

from simulator.scenario.challenge import load_challenge, shipped_challenges
from simulator.scenario.course import CHAPTERS, OTHER, course, next_lesson, read_entry
from simulator.scenario.library import course_files, scenario_files, shipped_dir
from simulator.scenario.loader import load_scenario
from tests.test_scenario_format import run_cli

_shipped = shipped_dir()
assert _shipped is not None
SHIPPED: Path = _shipped


def test_the_chapters_are_the_twelve_of_the_path_in_order() -> None:
    assert [c.number for c in CHAPTERS] == list(range(1, 13))
    assert CHAPTERS[0].title == "Blocking and non-blocking I/O"
    assert CHAPTERS[-1].title == "Scale"
    assert all(c.learn and "\n" not in c.learn for c in CHAPTERS)


def test_every_shipped_scenario_has_a_chapter_and_a_unique_place() -> None:
    places: dict[tuple[int, int], str] = {}
    files, _ = scenario_files([SHIPPED])
    assert files
    for path in files:
        meta = load_scenario(path).scenario
        assert meta.chapter is not None and meta.order is not None, path.name
        place = (meta.chapter, meta.order)
        assert place not in places, f"{path.name} and {places[place]} are both at {place}"
        places[place] = path.name


def test_every_shipped_challenge_has_a_chapter_and_a_unique_place() -> None:
    places: dict[tuple[int, int], str] = {}
    for name, path in shipped_challenges().items():
        meta = load_challenge(path).challenge
        assert meta.chapter is not None and meta.order is not None, name
        assert (meta.chapter, meta.order) not in places, name
        places[(meta.chapter, meta.order)] = name
    assert places[(6, 1)] == "et-stall" and places[(11, 1)] == "emfile-accept"


def test_the_quick_read_agrees_with_the_loader_on_every_shipped_lesson() -> None:
    for path in scenario_files([SHIPPED])[0]:
        scenario = load_scenario(path)
        entry = read_entry(path)
        glanced = read_entry(path, glance=True)
        assert (entry.kind, entry.chapter, entry.order) == (
            "lesson",
            scenario.scenario.chapter,
            scenario.scenario.order,
        )
        assert entry.steps == glanced.steps, path.name
        assert entry.template == glanced.template == bool(scenario.params), path.name
        if not entry.template:  # a template's tables expand (repeat) into more steps
            assert entry.steps == len(scenario.steps), path.name
            assert entry.asks == sum(1 for step in scenario.steps if step.ask), path.name
        assert glanced.asks is None


def test_the_shipped_course_places_every_lesson_once_in_chapter_order() -> None:
    sections = course()
    assert [s.chapter for s in sections] == list(CHAPTERS)  # no "Other lessons"
    placed = [lesson.path for s in sections for lesson in s.lessons]
    assert sorted(placed) == sorted(scenario_files([SHIPPED])[0])
    for section in sections:
        assert section.chapter is not None
        assert all(one.chapter == section.chapter.number for one in section.lessons)
        orders = [one.order or 0 for one in section.lessons]
        assert orders == sorted(orders)
    assert sections[0].lessons[0].name == "blocking-io"
    assert sections[5].heading == "6 · Level- vs edge-triggered"
    assert [c.name for c in sections[5].challenges] == ["et-stall", "twice"]
    assert sum(len(s.challenges) for s in sections) == len(shipped_challenges())


def test_a_users_folder_without_chapters_goes_to_other_lessons(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text('[scenario]\ntitle = "Bee"\n\n[[step]]\ndo = "socketpair"\n')
    (tmp_path / "a.toml").write_text(
        '[scenario]\ntitle = "Ay"\nchapter = 3\norder = 2\n\n[[step]]\ndo = "socketpair"\n'
        'ask = "?"\n'
    )
    (tmp_path / "broken.toml").write_text("[scenario\n")
    sections = course(tmp_path)
    assert [s.heading for s in sections if s.lessons][:1] == ["3 · select"]
    assert sections[2].lessons[0].asks == 1
    assert sections[-1].heading == OTHER
    assert [(one.title, one.error is not None) for one in sections[-1].lessons] == [
        ("Bee", False),
        ("broken", True),
    ]
    assert sections[-1].challenges == []


def test_next_lesson_follows_the_course_across_chapters() -> None:
    first = course()[0].lessons
    nxt = next_lesson(first[0].path)
    assert nxt is not None and nxt.path == first[1].path
    after_chapter_one = next_lesson(first[-1].path)
    assert after_chapter_one is not None and after_chapter_one.chapter == 2
    last = course()[-1].lessons[-1]
    assert next_lesson(last.path) is None
    assert next_lesson(Path("/nonexistent/x.toml")) is None


def test_folders_expand_to_scenarios_and_challenges_apart() -> None:
    scenarios, challenges, empty = course_files([SHIPPED])
    assert empty == []
    assert sorted(p.stem for p in challenges) == sorted(shipped_challenges())
    assert not set(scenarios) & set(challenges)
    assert scenario_files([SHIPPED])[0] == scenarios


def test_check_of_the_scenarios_folder_validates_challenges_as_challenges() -> None:
    status, out, err = run_cli("check", "--no-live", str(SHIPPED / "challenges"))
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == len(shipped_challenges())
    assert all(": ok (a challenge, " in line for line in lines)


def test_check_reports_a_broken_challenge_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[challenge]\ntitle = "T"\ngoal = "g"\nhint = "h"\n')
    status, out, err = run_cli("check", "--no-live", str(tmp_path))
    assert status == 1
    assert out == ""
    assert "c.toml" in err and "need" in err


def test_the_readme_lists_the_chapters_as_the_course_has_them() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The course\n", 1)[1].split("\n## ", 1)[0]
    listed = [line for line in section.splitlines() if line[:1].isdigit()]
    assert listed == [f"{c.number}. **{c.title}**: {c.learn}" for c in CHAPTERS]
