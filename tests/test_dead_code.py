"""No dead code: every function, class and module-level name in simulator/ and tui/ is used.

A name counts as used when it appears (as a word) anywhere else in simulator/, tui/ or
tests/: a call, an import, a docstring example. Decorated functions are registered by their
decorator (validators, ``atexit``), and framework hooks are called by name by Textual or
Rich, so neither is looked for. Every wheel package must hold code: an empty package shipped
in the wheel is dead too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("simulator", "tui")

#: Called by name by a framework, never by our code.
_HOOK_PREFIXES = ("on_", "watch_", "action_", "compute_", "validate_", "render", "compose", "key_")
_HOOKS = {
    "discover",  # textual.command.Provider
    "get_content_height",  # textual.widget.Widget
    "_make_app",  # textual_serve.server.Server
    "get_suggestion",  # textual.suggester.Suggester
    "bindings_changed",  # textual.widgets.Footer, subscribed to the screen's bindings signal
}
#: The whole poll(2) vocabulary is kept, used or not: a scenario may name any of it.
_VOCABULARY = {"POLLRDBAND", "POLLWRBAND", "POLLMSG", "POLLRDHUP"}


def _words() -> Counter[str]:
    words: Counter[str] = Counter()
    for folder in (*SOURCES, "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8")))
    return words


def _defined(tree: ast.Module) -> list[tuple[int, str]]:
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.decorator_list and not isinstance(node, ast.ClassDef):
                continue
            names.append((node.lineno, node.name))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names += [(t.lineno, t.id) for t in targets if isinstance(t, ast.Name)]
    return names


def test_every_definition_is_used() -> None:
    words = _words()
    unused = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, name in _defined(tree):
                if name.startswith("__") or name.startswith(_HOOK_PREFIXES):
                    continue
                if name in _HOOKS | _VOCABULARY:
                    continue
                if words[name] <= 1:
                    unused.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert unused == [], "defined but never used:\n" + "\n".join(unused)


def test_every_shipped_package_holds_code() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = config["tool"]["setuptools"]["packages"]
    moved = config["tool"]["setuptools"]["package-dir"]
    empty = []
    for package in packages:
        folder = ROOT / moved.get(package, Path(*package.split(".")))
        init = folder / "__init__.py"
        modules = [p for p in folder.iterdir() if p.suffix == ".py" and p.name != "__init__.py"]
        data = [p for p in folder.iterdir() if p.suffix in {".toml", ".md", ".tcss"}]
        body = ast.parse(init.read_text(encoding="utf-8")).body if init.exists() else []
        if not modules and not data and not body:
            empty.append(package)
    assert empty == [], f"packages shipped in the wheel with nothing in them: {empty}"


def test_every_document_referred_to_exists() -> None:
    """Paths into ``docs/``, Markdown links to ``.md`` files, and document names in capitals
    in the code and docs name files of this repository (the tests' own citations are checked by
    `tests.test_suite_rules`)."""
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    texts += [p for folder in SOURCES for p in (ROOT / folder).rglob("*.py")]
    missing = []
    for path in texts:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        for ref in re.findall(r"\bdocs/[\w/-]+\.md\b", text):
            if not (ROOT / ref).exists():
                missing.append(f"{where}: {ref}")
        for ref in re.findall(r"(?<![\w/.-])[A-Z][A-Z_]+\.md\b", text):
            if not (ROOT / ref).exists():
                missing.append(f"{where}: {ref}")
        if path.suffix == ".md":
            for ref in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)", text):
                if not (path.parent / ref).exists():
                    missing.append(f"{where}: {ref}")
    assert missing == [], "references to documents that are not in the repository: " + str(missing)


def test_no_fallback_for_a_dependency_that_is_always_installed() -> None:
    """``except ImportError`` around a module of muxlab or of a declared dependency is
    scaffolding from before it existed: the wheel always brings it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {
        re.split(r"[<>=!~ \[]", d)[0].replace("-", "_") for d in config["project"]["dependencies"]
    }
    ours = {*SOURCES, *declared}
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Try):
                    continue
                caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
                if not caught & {"ImportError", "ModuleNotFoundError"}:
                    continue
                for stmt in node.body:
                    if isinstance(stmt, ast.ImportFrom | ast.Import):
                        names = (
                            [stmt.module or ""]
                            if isinstance(stmt, ast.ImportFrom)
                            else [a.name for a in stmt.names]
                        )
                        if any(n.partition(".")[0] in ours for n in names):
                            found.append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
    assert found == [], f"fallbacks for modules that are always installed: {found}"
