"""Rich renderables of model state and scenario steps, shared by ``--headless`` and the app.

They know nothing of Textual: each is an object with ``__rich_console__`` (or, for the tree,
`draw_tree`'s lines) made from the model's snapshot API (`simulator.observe.Observable`), so the
app's widgets and ``--headless`` show the very same pictures (`ModelStateView` stacks them for
``--headless``). They copy what they draw when they are made (``capture``/``of``), so they can
be drawn later, while the model moves on.

Each is imported on first use (PEP 562): the lesson menu, which needs only `tui.render.safe`,
does not load the pictures of the model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.render.cost_meter import CostMeter
    from tui.render.fd_rows import FdRows
    from tui.render.live_side import LiveSide
    from tui.render.model_state import KqueueView, ModelStateView
    from tui.render.nic_lane import NicLane
    from tui.render.poll_sets import PollArray, SelectBitmaps
    from tui.render.rbtree_art import TreeShape, draw_tree
    from tui.render.ready_chain import ReadyChain
    from tui.render.rings import RingsView
    from tui.render.step import StepView
    from tui.render.wait_queues import WaitQueuesPicture

_LAZY = {
    "CostMeter": "tui.render.cost_meter",
    "FdRows": "tui.render.fd_rows",
    "LiveSide": "tui.render.live_side",
    "KqueueView": "tui.render.model_state",
    "ModelStateView": "tui.render.model_state",
    "NicLane": "tui.render.nic_lane",
    "PollArray": "tui.render.poll_sets",
    "SelectBitmaps": "tui.render.poll_sets",
    "TreeShape": "tui.render.rbtree_art",
    "draw_tree": "tui.render.rbtree_art",
    "ReadyChain": "tui.render.ready_chain",
    "RingsView": "tui.render.rings",
    "StepView": "tui.render.step",
    "WaitQueuesPicture": "tui.render.wait_queues",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tui.render' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CostMeter",
    "FdRows",
    "KqueueView",
    "LiveSide",
    "ModelStateView",
    "NicLane",
    "PollArray",
    "ReadyChain",
    "RingsView",
    "SelectBitmaps",
    "StepView",
    "TreeShape",
    "WaitQueuesPicture",
    "draw_tree",
]
