"""Scenarios: the TOML format, its validation, the lockstep runner and its reports.

The public names, re-exported from the modules that define them:

* `load_scenario` / `parse_scenario` -> `Scenario`, or one readable `ScenarioError`
  (`simulator.scenario.loader`; the models are in `simulator.scenario.format`);
* `Runner` yields a `StepRecord` per step with a `Verdict`; `seek` rewinds; `ScenarioRunError`
  when a run cannot go on (`simulator.scenario.runner`);
* `Recording` saves and replays the live kernel's answers (`simulator.scenario.recording`);
* `check_files` is ``muxlab check`` (`simulator.scenario.check`).
"""

from simulator.scenario.calls import Bindings, Outcome
from simulator.scenario.check import Summary, check_file, check_files
from simulator.scenario.format import Scenario, json_schema
from simulator.scenario.loader import ScenarioError, load_scenario, parse_scenario
from simulator.scenario.recording import Recording, RecordingError
from simulator.scenario.runner import Runner, ScenarioRunError, StepRecord, Verdict

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
