"""Rich renderables of model state and scenario steps, shared by ``--headless`` and the app.

They know nothing of Textual: each is an object with ``__rich_console__`` that reads the model's
read-only views, so a Textual widget can show the very same picture.
"""

from tui.render.model_state import (
    FdTableView,
    InterestTreeView,
    KqueueView,
    ModelStateView,
    ReadyListView,
)
from tui.render.step import StepView

__all__ = [
    "FdTableView",
    "InterestTreeView",
    "KqueueView",
    "ModelStateView",
    "ReadyListView",
    "StepView",
]
