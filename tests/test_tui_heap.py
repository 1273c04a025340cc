"""The player's garbage-collector policy (`tui.heap`): what is alive when a position is drawn is
frozen out of the collector, and a cycle that dies while frozen is still collected, when the
position goes back over a grown heap, every `RECLAIM_EVERY` positions, and never lost when the
player closes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui_support import EPOLL_SCENARIO, write
from tui.app import make_app
from tui.heap import BACK_GROWTH, RECLAIM_EVERY, HeapPolicy
from tui.screens.player import PlayerScreen


class Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def dying_cycle() -> weakref.ref[Node]:
    """A cycle that is garbage as soon as this returns (reachable through the weak reference
    until the collector frees it)."""
    return weakref.ref(Node())


def test_a_cycle_that_dies_while_frozen_waits_for_a_move_back_over_a_grown_heap() -> None:
    heap = HeapPolicy()
    node = Node()
    dead = weakref.ref(node)
    heap.settle(3)
    base = gc.get_freeze_count()
    assert base > 0
    del node
    gc.collect()
    assert dead() is not None  # frozen: out of the collector's sight
    # a rebuilt model: more live objects than BACK_GROWTH of the heap, frozen at the next position
    rebuilt = [Node() for _ in range(int(base * BACK_GROWTH) + 1000)]
    heap.settle(4)
    gc.collect()
    assert dead() is not None
    heap.settle(2)  # back over a grown heap: what was frozen is collected first
    assert dead() is None
    assert gc.get_freeze_count() > 0
    del rebuilt


def test_a_move_back_over_a_heap_that_barely_grew_collects_nothing_until_the_reclaim() -> None:
    heap = HeapPolicy()
    node = Node()
    dead = weakref.ref(node)
    heap.settle(3)
    del node
    heap.settle(4)
    heap.settle(2)  # back, but only a few objects were frozen since: no full collection
    gc.collect()
    assert dead() is not None
    for position in range(3, RECLAIM_EVERY):
        heap.settle(position)
    assert dead() is None  # the hundredth position drawn collected it


def test_going_forward_collects_what_was_frozen_every_few_positions() -> None:
    heap = HeapPolicy()
    node = Node()
    dead = weakref.ref(node)
    heap.settle(1)
    del node
    for position in range(2, RECLAIM_EVERY):
        heap.settle(position)
        assert dead() is not None
    heap.settle(RECLAIM_EVERY)
    assert dead() is None


def test_release_hands_everything_back_to_the_collector() -> None:
    heap = HeapPolicy()
    node = Node()
    dead = weakref.ref(node)
    heap.settle(1)
    del node
    heap.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dead() is None


async def test_the_player_freezes_while_open_and_releases_when_it_closes(tmp_path: Path) -> None:
    path = write(tmp_path, "epoll.toml", EPOLL_SCENARIO)
    app = make_app(path, live=False, animate=False, data_dir=tmp_path / "data")
    async with app.run_test(size=(140, 44)) as pilot:
        assert isinstance(app.screen, PlayerScreen)
        await pilot.press("right", "right")
        assert gc.get_freeze_count() > 0
        dead = dying_cycle()
        gc.collect()
        assert dead() is None  # made after the last freeze: collected as usual
        await pilot.press("m")  # back to the menu: the player closes
        await pilot.pause()
        assert not isinstance(app.screen, PlayerScreen)
        assert gc.get_freeze_count() == 0
