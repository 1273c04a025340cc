"""Architecture: the layering docs/architecture.md states, checked over every module.

    tui -> simulator.{scenario, bench} -> simulator.{kernel, live} -> bottom layer

The bottom layer is every module directly in ``simulator/`` (`simulator.uapi`,
`simulator.observe`, `simulator.isolated`, ...): it imports only the standard library and other
bottom-layer modules. Only `tui` uses presentation libraries (Textual, Rich).
`simulator.kernel` (the model) and `simulator.live` (the live engine) import the bottom layer
and themselves, never each other. `simulator.scenario` and `simulator.bench` (the lab) may
import those.
`tui` may import anything in `simulator` except the model and the live engine, which it only
sees through the bottom layer's protocols and snapshots. Nothing in `simulator` imports `tui`
or Textual. Every import counts, at module level or inside a function; imports under
``if TYPE_CHECKING:`` count too, except in the lazy facade ``simulator/__init__.py``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "tui")
#: Presentation libraries: only tui may use them.
PRESENTATION = {"textual", "rich", "textual_serve"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (absolute names), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from simulator import uapi`` imports the module simulator.uapi
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> str:
    """``tui``, ``scenario``, ``bench``, ``kernel``, ``live``, ``bottom``, ``facade`` or
    ``outside``."""
    parts = module.split(".")
    if parts[0] == "tui":
        return "tui"
    if parts[0] != "simulator":
        return "outside"
    if len(parts) == 1:
        return "facade"
    if parts[1] in ("scenario", "kernel", "live", "bench"):
        return parts[1]
    return "bottom"


#: Which layers of muxlab each layer may import.
ALLOWED = {
    "tui": {"tui", "facade", "scenario", "bench", "bottom"},
    "scenario": {"facade", "scenario", "kernel", "live", "bottom"},
    # The lab drives both kernels, as the runner does, and is beside it.
    "bench": {"facade", "bench", "kernel", "live", "bottom"},
    "kernel": {"facade", "kernel", "bottom"},
    "live": {"facade", "live", "bottom"},
    "bottom": {"facade", "bottom"},
}


def _resolves_to_module(name: str, modules: dict[str, Path]) -> bool:
    return name in modules or name.partition(".")[0] not in PACKAGES


def _violations() -> list[str]:
    modules = _modules()
    stdlib = sys.stdlib_module_names
    problems = []
    for name, path in modules.items():
        layer = _layer(name)
        if layer == "facade":
            continue  # simulator/__init__.py: lazy, checked by test_bottom_layer_imports_*
        where = path.relative_to(ROOT)
        for line, imported in _imports(name, path):
            top = imported.partition(".")[0]
            if top in PACKAGES:
                if not _resolves_to_module(imported, modules):
                    continue  # ``from simulator.observe import TraceKind``: a name, not a module
                target = _layer(imported)
                if target not in ALLOWED[layer]:
                    problems.append(f"{where}:{line}: {layer} imports {imported} ({target})")
            elif layer == "bottom" and top not in stdlib and top != "__future__":
                problems.append(f"{where}:{line}: bottom layer imports {imported} (not stdlib)")
            elif layer != "tui" and top in PRESENTATION:
                problems.append(f"{where}:{line}: {layer} imports {imported} (presentation)")
    return problems


def test_every_module_respects_the_layering() -> None:
    assert _violations() == []


def test_the_rule_sees_every_module_and_function_level_imports() -> None:
    modules = _modules()
    assert {"simulator.uapi", "simulator.observe", "tui.frame", "simulator.kernel.model"} <= set(
        modules
    )
    imports = {m for _, m in _imports("tui.cli", modules["tui.cli"])}
    # tui.cli imports the app inside its functions (start-up time): those imports count too.
    assert any(m.startswith("tui.") for m in imports)


@pytest.mark.parametrize("bottom", ["simulator.uapi", "simulator.observe"])
def test_bottom_layer_imports_load_neither_the_model_nor_the_live_engine(bottom: str) -> None:
    code = (
        f"import {bottom}, sys;"
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('simulator.kernel', 'simulator.live', 'simulator.scenario'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_facade_still_offers_both_kernels() -> None:
    code = "from simulator import LiveKernel as L, ModelKernel as M; print(M.__name__, L.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ModelKernel", "LiveKernel"]


def test_simulator_never_imports_textual() -> None:
    code = (
        "import sys, simulator, simulator.kernel, simulator.live, simulator.scenario;"
        "import simulator.scenario.runner;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
