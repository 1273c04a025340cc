"""Rich renderables of model state and scenario steps, shared by ``--headless`` and the app.

They know nothing of Textual: each is an object with ``__rich_console__`` that reads the model's
read-only views, so a Textual widget can show the very same picture. The app's pictures
(`TreeShape`, `ReadyChain`, `WaitQueuesPicture`, `NicLane`, `CostMeter`, `PollArray`,
`SelectBitmaps`, `LiveSide`) copy what they draw when they are made (``capture``/``of``), so they
can be drawn later, while the model moves on.
"""

from tui.render.cost_meter import CostMeter
from tui.render.live_side import LiveSide
from tui.render.model_state import (
    FdTableView,
    InterestTreeView,
    KqueueView,
    ModelStateView,
    ReadyListView,
)
from tui.render.nic_lane import NicLane
from tui.render.poll_sets import PollArray, SelectBitmaps
from tui.render.rbtree_art import TreeShape, draw_tree
from tui.render.ready_chain import ReadyChain
from tui.render.step import StepView
from tui.render.wait_queues import WaitQueuesPicture

__all__ = [
    "CostMeter",
    "FdTableView",
    "InterestTreeView",
    "KqueueView",
    "LiveSide",
    "ModelStateView",
    "NicLane",
    "PollArray",
    "ReadyChain",
    "ReadyListView",
    "SelectBitmaps",
    "StepView",
    "TreeShape",
    "WaitQueuesPicture",
    "draw_tree",
]
