"""Recordings: the live kernel's answers to one scenario, saved so a run can be replayed later.

Only what is not deterministic is recorded (the real kernel's answers, rr-style); the model is
re-run. A recording holds raw numbers and errno *names*, never errno numbers, so a Linux
recording replays on macOS and the reverse. It is tied to the scenario by `scenario_hash`, a
digest of what the steps *do* (calls, arguments, names, model parameters) and not of their
narration, so rewording a lesson keeps its recordings valid while changing a call does not.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from simulator.scenario import jsontext
from simulator.scenario.format import Scenario

FORMAT = "muxlab-recording"
VERSION = 1


class RecordingError(Exception):
    """A recording that cannot be used (unreadable, malformed, or for another scenario)."""


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the executable content of a scenario (not its metadata or narration)."""
    content = {
        "model": scenario.model.kwargs(),
        "steps": [
            {
                "do": step.call.name,
                "args": step.arguments.model_dump(mode="json"),
                "as": step.as_,
                "model_only": step.model_only,
            }
            for step in scenario.steps
        ],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def this_platform() -> dict[str, str]:
    """Where a live run happens: OS, release, machine, Python."""
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


class _RecordingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["muxlab-recording"]
    version: Literal[1]
    scenario_hash: str
    title: str
    platform: dict[str, str]
    live: list[dict[str, Any] | None]


@dataclass(frozen=True)
class Recording:
    """The live outcomes of a run, one per step (None where the live kernel did not run)."""

    scenario_hash: str
    title: str
    live: tuple[dict[str, Any] | None, ...]
    platform: dict[str, str] = field(default_factory=this_platform)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "scenario_hash": self.scenario_hash,
            "title": self.title,
            "platform": dict(self.platform),
            "live": list(self.live),
        }

    @classmethod
    def from_json(cls, data: Any) -> Recording:
        try:
            doc = _RecordingFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise RecordingError(f"not a muxlab recording ({where}: {first['msg']})") from None
        return cls(doc.scenario_hash, doc.title, tuple(doc.live), doc.platform)

    def save(self, path: str | Path) -> None:
        text = jsontext.dumps(self.to_json(), indent=1)  # strict JSON: no bare NaN/Infinity
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordingError(f"{path}: cannot read recording: {exc}") from None
        try:
            return cls.from_json(data)
        except RecordingError as exc:
            raise RecordingError(f"{path}: {exc}") from None

    def check(self, scenario: Scenario) -> None:
        """Raise `RecordingError` unless this recording was made for `scenario`."""
        if self.scenario_hash != scenario_hash(scenario):
            raise RecordingError(
                f"the recording of {self.title!r} was made for a different version of the "
                "scenario (its steps changed since); record it again"
            )
        if len(self.live) > len(scenario.steps):
            raise RecordingError("the recording has more steps than the scenario")
