"""Scenarios: the TOML format, its validation, the lockstep runner and its reports.

The public names, re-exported from the modules that define them:

* `load_scenario` / `parse_scenario` -> `Scenario`, or one readable `ScenarioError`
  (`simulator.scenario.loader`; the models are in `simulator.scenario.format`);
* `Runner` yields a `StepRecord` per step with a `Verdict`; `seek` rewinds; `ScenarioRunError`
  when a run cannot go on (`simulator.scenario.runner`);
* `Recording` saves and replays the live kernel's answers (`simulator.scenario.recording`);
* `check_files` is ``muxlab check`` (`simulator.scenario.check`).

Each is imported on first use (PEP 562): importing a light module of the package
(`simulator.scenario.library`, `simulator.scenario.controls`) does not build the pydantic
models of the format or load the runner, so the app's lesson menu starts without them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.scenario.calls import Bindings, Outcome
    from simulator.scenario.check import Summary, check_file, check_files
    from simulator.scenario.format import Scenario, json_schema
    from simulator.scenario.loader import ScenarioError, load_scenario, parse_scenario
    from simulator.scenario.recording import Recording, RecordingError
    from simulator.scenario.runner import Runner, ScenarioRunError, StepRecord, Verdict

_LAZY = {
    "Bindings": "calls",
    "Outcome": "calls",
    "Summary": "check",
    "check_file": "check",
    "check_files": "check",
    "Scenario": "format",
    "json_schema": "format",
    "ScenarioError": "loader",
    "load_scenario": "loader",
    "parse_scenario": "loader",
    "Recording": "recording",
    "RecordingError": "recording",
    "Runner": "runner",
    "ScenarioRunError": "runner",
    "StepRecord": "runner",
    "Verdict": "runner",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator.scenario' has no attribute {name!r}")
    value = getattr(import_module(f"simulator.scenario.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Bindings",
    "Outcome",
    "Recording",
    "RecordingError",
    "Runner",
    "Scenario",
    "ScenarioError",
    "ScenarioRunError",
    "StepRecord",
    "Summary",
    "Verdict",
    "check_file",
    "check_files",
    "json_schema",
    "load_scenario",
    "parse_scenario",
]
