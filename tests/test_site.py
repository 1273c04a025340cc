"""``muxlab site`` (issue 15): the course as a MkDocs Material project, built for real with
``mkdocs build --strict``; its link check catches a broken link, anchor or picture; a hostile
lesson puts no markup, script or hidden link into the HTML; bad input gets one message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_export import svg_text
from tests.test_hostile_inputs import assert_clean

BIN = Path(sys.executable).parent
MUXLAB = str(BIN / "muxlab")
TESTS = Path(__file__).parent
LESSONS = TESTS / "site"  # two small lessons: chapter 1 (with every part) and chapter 2
HOSTILE = TESTS / "hostile" / "site" / "inject.toml"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def mkdocs_build(out: Path) -> subprocess.CompletedProcess[str]:
    """The build CI runs: strict, so a broken internal link, anchor or file is an error."""
    return run(str(BIN / "mkdocs"), "build", "--strict", "-f", str(out / "mkdocs.yml"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two test lessons written (with the real kernel) and built into HTML."""
    out = tmp_path_factory.mktemp("site") / "course"
    done = run(MUXLAB, "site", str(out), str(LESSONS))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"2 lessons, 3 steps (model and live kernel) in {out}")
    built = mkdocs_build(out)
    assert built.returncode == 0, built.stderr
    return out


def test_a_lesson_page_has_its_text_steps_answers_and_pictures(site: Path) -> None:
    page = (site / "site" / "lessons" / "first" / "index.html").read_text(encoding="utf-8")
    assert "<h1" in page and ">A first read<" in page
    assert "A read on a socket with nothing queued" in page  # the lesson text
    assert "Two connected sockets, <code>a</code> and <code>b</code>" in page  # narration
    assert "<code>recv(fd=a, nbytes=1)</code>" in page
    # Both kernels answered, and the page says which kernel it was.
    assert "<th>Linux</th><td>EAGAIN" in page and "(not run)" not in page
    assert "from the real kernel (Linux" in page
    # The question comes first; its answer, verdict and picture are folded below it.
    question = page.index("Nothing was sent. What does <code>recv</code>")
    folded = page.index("<summary>Answer</summary>")
    assert question < folded < page.index("The answer: <strong>2. <code>EAGAIN</code>")
    assert "<li><code>0</code></li><li><code>EAGAIN</code></li><li><code>1</code></li>" in page
    for step in (1, 2):
        assert f'id="step-{step}"' in page
        frame = f"first-step{step:03d}.svg"
        assert f'src="../frames/{frame}"' in page
        shown = svg_text(site / "site" / "lessons" / "frames" / frame)
        assert "A first read" in shown and f"step {step}/2" in shown
    assert "An empty non-blocking socket answers <code>EAGAIN</code>." in page  # the recap
    assert 'href="https://man7.org/linux/man-pages/man2/recv.2.html"' in page
    assert '<a href="../second/">A second read</a>' in page  # next lesson


def test_the_index_lists_the_chapters_in_order_with_their_lessons(site: Path) -> None:
    html = (site / "site" / "index.html").read_text(encoding="utf-8")
    index = html[html.index("<h1") :]  # the page's content, after the nav
    first = index.index("1. Blocking and non-blocking I/O")
    second = index.index("2. The polling problem")
    assert first < index.index('href="lessons/first/"', first) < second
    assert second < index.index('href="lessons/second/"')
    assert "A non-blocking <code>recv</code> on an empty socket answers" in index  # a summary
    assert '<strong>Start here:</strong> <a href="lessons/first/">A first read</a>' in index


#: Links that break in three ways, each of which the strict build must report.
BROKEN = {
    "nowhere.md": "[a page that is not there](nowhere.md)",
    "#step-99": "[an anchor that is not there](second.md#step-99)",
    "frames/first-step099.svg": "![a picture that is not there](frames/first-step099.svg)",
}


def test_a_broken_link_anchor_or_picture_fails_the_strict_build(site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "course"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("site"))
    page = copy / "pages" / "lessons" / "first.md"
    text = page.read_text(encoding="utf-8")
    page.write_text(text + "\n" + "\n\n".join(BROKEN.values()) + "\n", encoding="utf-8")
    built = mkdocs_build(copy)
    assert built.returncode == 1, built.stderr
    said = built.stdout + built.stderr
    assert f"Aborted with {len(BROKEN)} warnings in strict mode" in said
    for target in BROKEN:
        assert f"contains a link '{target}'" in said or f"anchor '{target}'" in said


def test_without_the_live_kernel_the_pages_say_model_only(tmp_path: Path) -> None:
    out = tmp_path / "course"
    for _ in range(2):  # a folder muxlab wrote may be written again: its pages/ are replaced
        done = run(MUXLAB, "site", str(out), str(LESSONS / "second.toml"), "--no-live")
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "pages" / "lessons").iterdir()) == ["frames", "second.md"]
    page = (out / "pages" / "lessons" / "second.md").read_text(encoding="utf-8")
    assert "Answers from the model only (the site was built with --no-live)." in page
    assert "<th>Linux</th><td>(not run)</td>" in page
    assert "This is the last lesson of the course." in page


class _Markup(HTMLParser):
    """Every element of a page, and the text it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def test_a_hostile_lesson_puts_no_markup_script_or_hidden_link_in_the_site(
    tmp_path: Path,
) -> None:
    out = tmp_path / "course"
    done = run(MUXLAB, "site", str(out), str(HOSTILE), "--no-live")
    assert done.returncode == 0, done.stderr
    built = mkdocs_build(out)
    assert built.returncode == 0, built.stderr
    pages = sorted((out / "site").rglob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        markup = _Markup()
        markup.feed(page.read_text(encoding="utf-8"))
        for tag, attrs in markup.tags:
            assert tag not in {"iframe", "object", "embed", "b"}, (page, tag, attrs)
            assert not [a for a in attrs if a.startswith("on")], (page, tag, attrs)
            for name in ("href", "src"):
                target = attrs.get(name, "").lower()
                assert not target.startswith(("javascript:", "vbscript:", "data:")), (page, tag)
            if tag == "img":  # a frame of ours: no request to anyone else's server
                assert attrs["src"].startswith(("../frames/", "assets/", "../../assets/"))
        assert not [s for s in markup.scripts if "alert" in s], page  # only Material's own
    lesson = _Markup()
    lesson.feed((out / "site" / "lessons" / "inject" / "index.html").read_text(encoding="utf-8"))
    shown = "".join(lesson.text)
    # Shown as text, not dropped: the reader sees what the file says.
    for words in ("<script>alert('say')</script>", "<svg onload=alert(9)>", "alert(14)"):
        assert words in shown
    assert "</title><script>alert('title')</script> *bold* [x](javascript:alert(1))" in shown


def test_bad_input_gets_one_message(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    done = run(MUXLAB, "site", str(taken), str(LESSONS), "--no-live")
    assert_clean(done, [taken])
    assert "is not empty and not a site muxlab wrote; choose another folder" in done.stderr
    assert (taken / "notes.txt").read_text() == "mine"
    bad = TESTS / "hostile" / "scenarios" / "do-escape.toml"
    done = run(MUXLAB, "site", str(tmp_path / "out"), str(bad), "--no-live")
    assert_clean(done, [bad])
    done = run(MUXLAB, "site", str(tmp_path / "out"), str(LESSONS), "--width", "3")
    assert done.returncode == 2 and "--width must be between 40 and 1000" in done.stderr


def test_a_file_name_becomes_a_safe_page_name_and_two_pages_never_share_one(
    tmp_path: Path,
) -> None:
    from tui.site import SiteError, load_lessons

    lesson = '[scenario]\ntitle = "T"\n\n[[step]]\ndo = "socketpair"\n'
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "\x1b]0;x\x07<b> c.toml").write_text(lesson)
    (lesson_one,) = load_lessons([tmp_path / "one"])
    assert lesson_one.slug == "--0-x--b--c"
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a.b.toml").write_text(lesson)
    (tmp_path / "two" / "a-b.toml").write_text(lesson)
    with pytest.raises(SiteError, match=r"would both be the page a-b\.md; rename one of them"):
        load_lessons([tmp_path / "two"])


def test_a_lesson_text_that_opens_with_the_title_does_not_show_it_twice(tmp_path: Path) -> None:
    # Issue 15: a text opening with its own `# Title` showed the title again, as a sub-heading
    # under "The lesson". Only a leading heading that says the title goes; any other stays.
    from tui.site import chapter_titles, lesson_page, load_lessons

    scenario = '[scenario]\ntitle = "A first  read"\nlesson = "{}"\n\n[[step]]\ndo = "socketpair"\n'
    texts = {
        "atx": "# A first read\n\nA read that sleeps.\n\n## A first read\n",
        "setext": "a FIRST read\n============\nA read that sleeps.\n",
        "other": "# Reading\n\nA read that sleeps.\n",
        "later": "A read that sleeps.\n\n# A first read\n",
        "only": "# A first read #\n",
    }
    for name, text in texts.items():
        (tmp_path / f"{name}.md").write_text(text)
        (tmp_path / f"{name}.toml").write_text(scenario.format(f"{name}.md"))
    pages = {
        lesson.slug: lesson_page(lesson, [], None, chapter_titles(), live=False)
        for lesson in load_lessons([tmp_path])
    }
    for name in ("atx", "setext"):
        page = pages[name]
        assert page.startswith("# A first  read\n")  # the page's own heading
        assert "<h3>A first read</h3>" not in page and "<h3>a FIRST read</h3>" not in page
        assert "## The lesson\n" in page and "<p>A read that sleeps.</p>" in page
    assert "<h4>A first read</h4>" in pages["atx"]  # a heading further down stays
    assert "<h3>Reading</h3>" in pages["other"]
    assert "<h3>A first read</h3>" in pages["later"]
    assert "## The lesson" not in pages["only"]  # nothing left to read
