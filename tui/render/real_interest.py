"""The real interest lists ``muxlab play --headless`` prints: each epoll's
``/proc/<pid>/fdinfo/<epfd>``, read from the live kernel, drawn as the player's right panel
draws it (`tui.render.live_side.FdinfoView`) with each entry compared with the model's.

The player shows every epoll's list at every step; a page of text would repeat the same table
step after step, so `RealInterestLists` prints a list only after a step that names its epoll
or changed it. Only a step that can change a list is a reason to read one: an epoll call, or a
call that frees a descriptor (the last ``close`` of a watched file removes its item), so the
other steps cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.observe import HasFdinfo, Observable
from simulator.scenario.calls import Bindings
from simulator.scenario.loader import argument_refs
from simulator.scenario.runner import LiveFactory, StepRecord
from simulator.uapi import Kernel
from tui.render.live_side import FdinfoView

#: The model's registrations compared with the real list (the player's bound).
_COMPARED = 4096

#: One epoll's real list as printed: its entries, or why they could not be read.
_Entries = list[dict[str, int]] | str


class RealInterestLists:
    """The real interest lists of the epolls a scenario names (`epoll_names`: the names its
    ``epoll_create`` steps bind), after each step. `wrap` the live kernel's factory so that
    the lists can be read from the kernel the run starts."""

    def __init__(self, epoll_names: Sequence[str]) -> None:
        self.epoll_names = tuple(dict.fromkeys(epoll_names))
        self._kernel: HasFdinfo | None = None
        self._shown: dict[str, _Entries] = {}  # each epoll's list as last printed

    def wrap(self, factory: LiveFactory) -> LiveFactory:
        """`factory`, remembering the kernel it makes (when it can show an fdinfo)."""

        def started(**limits: Any) -> Kernel:
            kernel = factory(**limits)
            self._kernel = kernel if isinstance(kernel, HasFdinfo) else None
            return kernel

        return started

    def after(
        self, record: StepRecord, model: Observable | None, names: Bindings
    ) -> list[FdinfoView]:
        """The lists to print after `record`'s step (`model` and its `names` at that point, for
        the comparison). O(epolls) reads of ``/proc`` after a step that can change a list, O(1)
        after any other."""
        kernel = self._kernel
        syscall = record.step.call.syscall
        if kernel is None or record.live is None or not self.epoll_names:
            return []
        if syscall.mechanism != "epoll" and not syscall.releases_fds:
            return []
        named = {ref for _, ref in argument_refs(record.step)} | set(record.step.names)
        views = []
        for name in self.epoll_names:
            fd = record.live_names.fds.get(name)
            if fd is None:  # not created yet, or closed
                self._shown.pop(name, None)
                continue
            entries: _Entries
            try:
                entries = kernel.fdinfo(fd)
            except (OSError, ValueError) as exc:
                entries = str(exc) or type(exc).__name__
            if name not in named and self._shown.get(name) == entries:
                continue
            self._shown[name] = entries
            views.append(
                FdinfoView(name, entries, _model_items(model, names, name), record.live_names.names)
            )
        return views


def _model_items(
    model: Observable | None, names: Bindings, name: str
) -> list[tuple[int, int]] | None:
    """The model's registrations in epoll `name`, if the model has that epoll."""
    fd = names.fds.get(name)
    if model is None or fd is None:
        return None
    file = model.file_at(fd)
    if file is None or file.kind != "epoll":
        return None
    return model.interest_list(fd, _COMPARED)


__all__ = ["RealInterestLists"]
