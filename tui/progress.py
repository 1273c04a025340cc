"""Saved progress: how far the user got in each lesson, and their prediction score.

One small JSON file, ``progress.json``, in the user's data directory: ``$MUXLAB_DATA_DIR`` if
set (tests point it at a temporary folder), else ``$XDG_DATA_HOME/muxlab``, else
``~/.local/share/muxlab``. Writes go to a temporary file renamed over the old one, so a crash
never leaves half a file; a file that cannot be read (corrupt, or from a newer muxlab) is set
aside as ``progress.json.bad`` and progress starts afresh, with a message rather than a
traceback.

Lessons are keyed by their file name without ``.toml`` for shipped scenarios (stable across
installations), and by absolute path for any other file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = 1
FILE_NAME = "progress.json"


def data_dir() -> Path:
    """Where muxlab keeps the user's data (not created here)."""
    override = os.environ.get("MUXLAB_DATA_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "muxlab"


def lesson_key(path: Path, shipped: Path | None) -> str:
    """The key a scenario's progress is saved under."""
    resolved = path.resolve()
    if shipped is not None and resolved.parent == shipped.resolve():
        return resolved.stem
    return str(resolved)


@dataclass
class LessonProgress:
    """One lesson: the furthest step reached, whether it was finished, predictions."""

    furthest: int = 0
    steps: int = 0
    right: int = 0
    asked: int = 0

    @property
    def completed(self) -> bool:
        return self.steps > 0 and self.furthest >= self.steps

    def summary(self) -> str:
        """``done · 3/4 predicted``, ``7/13``, or ``new``."""
        if self.furthest == 0 and self.asked == 0:
            return "new"
        text = "done" if self.completed else f"{self.furthest}/{self.steps}"
        if self.asked:
            text += f" · {self.right}/{self.asked} predicted"
        return text


class ProgressStore:
    """Progress of every lesson, loaded once and saved after each change."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else data_dir()
        self.path = self.directory / FILE_NAME
        self.lessons: dict[str, LessonProgress] = {}
        #: Each solved challenge's best score (the fewest calls it was solved in).
        self.challenges: dict[str, int] = {}
        self.problem: str | None = None  #: why the saved file could not be used
        self._load()

    def get(self, key: str) -> LessonProgress:
        """The progress of one lesson (a fresh record if it was never opened)."""
        return self.lessons.get(key, LessonProgress())

    def update(
        self, key: str, *, furthest: int, steps: int, right: int, asked: int
    ) -> LessonProgress:
        """Merge a session's progress in and save: the furthest step never goes back; the
        score is the latest session's, once it has answered something."""
        old = self.get(key)
        if not asked:
            right, asked = old.right, old.asked
        new = LessonProgress(
            furthest=max(old.furthest, min(furthest, steps)),
            steps=steps,
            right=right,
            asked=asked,
        )
        if new != old:
            self.lessons[key] = new
            self.save()
        return new

    def solved(self, key: str, calls: int) -> int:
        """Record that challenge `key` was solved in `calls` calls and save; returns the best
        score so far (the fewest calls)."""
        best = min(calls, self.challenges.get(key, calls))
        if self.challenges.get(key) != best:
            self.challenges[key] = best
            self.save()
        return best

    def save(self) -> None:
        """Write the file atomically; a failure is kept in `problem`, not raised."""
        document = {
            "version": VERSION,
            "lessons": {key: asdict(value) for key, value in sorted(self.lessons.items())},
            "challenges": dict(sorted(self.challenges.items())),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".progress-", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=1)
                out.write("\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            self.problem = f"cannot save progress to {self.path}: {exc.strerror or exc}"

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"cannot read {self.path}: {exc.strerror or exc}"
            return
        try:
            document = json.loads(text)
            if document.get("version") != VERSION:
                raise ValueError(f"version {document.get('version')!r}")
            lessons = {
                str(key): LessonProgress(
                    **{k: int(v) for k, v in value.items() if k in LessonProgress.__annotations__}
                )
                for key, value in document["lessons"].items()
            }
            challenges = {
                str(key): int(value) for key, value in document.get("challenges", {}).items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.problem = (
                f"{self.path} could not be used ({exc}); it was kept as "
                f"{self.path.name}.bad and progress starts afresh"
            )
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(self.path.name + ".bad"))
            return
        self.lessons = lessons
        self.challenges = challenges


__all__ = ["LessonProgress", "ProgressStore", "data_dir", "lesson_key"]
