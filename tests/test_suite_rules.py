"""Rules the test suite keeps about itself, so that it cannot rot: helper modules are not named
like test modules, the documents tests cite exist, CI fails (never skips) a test whose tool it
promised to install, hypothesis runs under a named profile, and the Textual range is the one
the SVG snapshots were drawn with."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from tests.conftest import hypothesis_profile, in_ci

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _defines_a_test(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"))
        or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
        for node in tree.body
    )


def test_every_test_module_holds_tests_and_helpers_are_named_otherwise() -> None:
    """A `test_*` module without tests is a helper pytest collects for nothing (and may run)."""
    helpers = [p.name for p in sorted(TESTS.glob("test_*.py")) if not _defines_a_test(p)]
    assert helpers == [], f"helper modules named like tests (rename them): {helpers}"


#: A document cited by path (``docs/x.md``) or by a name in capitals (``DESIGN.md``), and the
#: bare names of the design documents that live outside the repository.
_CITED = re.compile(r"\b(?:docs/[\w./-]+\.md|[A-Z][A-Z_]+\.md)\b")
_OUTSIDE = re.compile(r"\b(?:KERNEL_SPEC|DESIGN|STYLE)\b(?!\.md)")


def test_documents_the_tests_cite_exist_in_the_repository() -> None:
    missing = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == Path(__file__).name:  # names the patterns themselves
            continue
        text = path.read_text(encoding="utf-8")
        for match in _CITED.finditer(text):
            if not (ROOT / match.group()).is_file():
                missing.append(f"{path.relative_to(ROOT)}: {match.group()}")
        for match in _OUTSIDE.finditer(text):
            missing.append(f"{path.relative_to(ROOT)}: {match.group()} (not in the repository)")
    assert missing == []


# --- tools CI promises: skipped by name outside CI, failed under it ------------------------------


#: Test files that drive a program CI installs, and the name their skip or failure gives it.
_TOOL_TESTS = {"tests/test_tui_tmux.py": "tmux", "tests/test_browser.py": "Chromium"}


def _pytest_without_tools(*tests: str, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run test files in one fresh pytest whose PATH has no tmux and no Chromium.

    In one process (``-n 0``): the files' tests skip or fail at their fixture, so xdist's
    workers -- each importing the whole app -- would cost most of the run and check nothing more.
    """
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv: python, no tmux, no chromium
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rsfE",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            *tests,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_missing_tool_skips_by_name_outside_ci() -> None:
    """Every file's tests are skipped, each naming its own tool and how to install it (one
    pytest for all the files: a fresh pytest's start-up is most of what this costs)."""
    outside = _pytest_without_tools(*_TOOL_TESTS, ci=False)
    assert outside.returncode == 0, outside.stdout + outside.stderr
    assert re.search(r"\b(passed|failed|errors?)\b", outside.stdout) is None, outside.stdout
    for test, tool in _TOOL_TESTS.items():
        skip = re.compile(
            rf"SKIPPED \[\d+\] {re.escape(test)}:\d+: {tool}( \([^)]*\))? is not installed; "
            r"install it with `apt-get install"
        )
        assert skip.search(outside.stdout), f"{test} not skipped by name:\n{outside.stdout}"


def test_a_missing_tool_fails_under_ci() -> None:
    """Under CI nothing is skipped: every file's tests fail, each naming its own tool."""
    under = _pytest_without_tools(*_TOOL_TESTS, ci=True)
    assert under.returncode == 1, under.stdout + under.stderr
    assert "skipped" not in under.stdout and "passed" not in under.stdout, under.stdout
    for test, tool in _TOOL_TESTS.items():
        failed = re.compile(
            rf"(FAILED|ERROR) {re.escape(test)}::\S+ - Failed: "
            rf"{tool}( \([^)]*\))? is not installed; .*\(CI is set, and CI runs every test\)"
        )
        assert failed.search(under.stdout), f"{test} did not fail by name:\n{under.stdout}"


def test_ci_script_declares_ci() -> None:
    """`.ci/run` sets CI itself, so running it by hand gates the same way as a CI service."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'export CI="${CI:-true}"' in script


# --- hypothesis profiles -----------------------------------------------------------------------


def test_hypothesis_runs_the_ci_profile_under_ci_and_dev_otherwise() -> None:
    from hypothesis import settings

    assert hypothesis_profile({"CI": "true"}) == "ci"
    assert hypothesis_profile({"CI": "1"}) == "ci"
    assert hypothesis_profile({}) == "dev"
    assert hypothesis_profile({"CI": "false"}) == "dev"
    assert in_ci({"CI": "0"}) is False
    ci = settings.get_profile("ci")
    assert ci.database is None and ci.print_blob
    assert settings.get_profile("dev").max_examples == ci.max_examples
    # This very run uses the one its environment selects (or --hypothesis-profile's).
    assert settings.default is not None
    assert settings.default.max_examples == settings.get_profile(hypothesis_profile()).max_examples


# --- the Textual the snapshots were drawn with ---------------------------------------------------


def test_textual_is_pinned_to_the_range_the_snapshots_were_drawn_with() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = (Requirement(d) for d in project["dependencies"])
    (pinned,) = (r.specifier for r in requirements if r.name == "textual")
    installed = version("textual")
    assert installed in pinned, f"Textual {installed} is outside {pinned}"
    major, minor = (int(part) for part in installed.split(".")[:2])
    # An upper bound below the next minor release: a minor release may draw differently.
    assert f"{major}.{minor + 1}" not in pinned and f"{major + 1}.0" not in pinned


def test_mypy_checks_the_tests_and_tui_tests_use_public_api() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True and "tests" in mypy["packages"]
    private = [p.name for p in sorted(TESTS.glob("*.py")) if "._" + "compositor" in p.read_text()]
    assert private == [], f"tests reading Textual's private compositor: {private}"
