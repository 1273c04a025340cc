"""The course (simulator.scenario.course): twelve chapters, every shipped lesson and challenge
placed in one, and challenge files told apart from scenarios wherever folders are expanded."""

from __future__ import annotations

import json
import subprocess
import sys
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
    assert sections[0].lessons[0].name == "sleep-or-eagain"
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


# --- muxlab lessons ---------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def _muxlab(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real command line, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "tui", *argv], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_lessons_json_lists_every_lesson_and_challenge_in_course_order() -> None:
    done = _muxlab("lessons", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    lessons = [line for line in lines if line["kind"] == "lesson"]
    challenges = [line for line in lines if line["kind"] == "challenge"]
    assert sorted(Path(line["file"]).name for line in lessons) == sorted(
        p.name for p in scenario_files([SHIPPED])[0]
    )
    assert sorted(line["name"] for line in challenges) == sorted(shipped_challenges())
    # Every chapter has a lesson; the lines come chapter by chapter, lessons before challenges.
    assert sorted({line["chapter"] for line in lessons}) == list(range(1, 13))
    places = [(line["chapter"], line["kind"] == "challenge", line["order"]) for line in lines]
    assert places == sorted(places)
    first = lessons[0]
    assert first["chapter_title"] == "Blocking and non-blocking I/O"
    assert first["file"] == "scenarios/sleep-or-eagain.toml"  # start here
    for line in lessons:  # the counts are the file's, as the loader sees them
        scenario = load_scenario(ROOT / line["file"])
        assert line["title"] == scenario.scenario.title
        if not line["template"]:
            assert line["steps"] == len(scenario.steps)
            assert line["asks"] == sum(1 for step in scenario.steps if step.ask)
        # The course's rule: every shipped lesson asks at least three questions.
        assert sum(1 for step in scenario.steps if step.ask) >= 3, line["file"]


def test_lessons_prints_the_path_with_chapter_headings(tmp_path: Path) -> None:
    done = _muxlab("lessons")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    headings = [line for line in out.splitlines() if line[:1].isdigit()]
    assert [h.split(" -- ")[0] for h in headings] == [f"{c.number} · {c.title}" for c in CHAPTERS]
    assert "muxlab sandbox --challenge poll-nval" in out
    assert out.index("4 · poll") < out.index("--challenge poll-nval") < out.index("5 · epoll")
    # A folder of one's own: only the chapters it fills, then "Other lessons".
    (tmp_path / "mine.toml").write_text(
        '[scenario]\ntitle = "Mine \\u001b[31m"\n\n[[step]]\ndo = "socketpair"\nask = "?"\n'
    )
    mine = _muxlab("lessons", str(tmp_path), cwd=tmp_path)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.splitlines()[2:4] == ["Other lessons", "  1. Mine ^[[31m"]
    assert "1 step, 1 question · mine.toml" in mine.stdout
    assert "\x1b" not in mine.stdout


def test_lessons_refuses_what_is_not_a_folder_of_lessons(tmp_path: Path) -> None:
    missing = _muxlab("lessons", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert missing.stderr == f"muxlab: {tmp_path / 'nope'}: not a folder of lessons\n"
    empty = _muxlab("lessons", str(tmp_path))
    assert empty.returncode == 1
    assert empty.stderr == f"muxlab: no lessons (*.toml) in {tmp_path}\n"
