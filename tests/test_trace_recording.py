"""Recording a micro-step is cheap, and cheapness changes nothing a viewer sees.

A traced ``EPOLL_CTL_ADD`` records a comparison per node on two descents of the interest tree
(``ep_find``, then the insert's own). They are charged one descent at a time
(`Tracer.charge_compares`), not through a call per comparison; these tests count calls,
never time. The animation's observer must still see every comparison
with the cost and the trace exactly as charging them one by one would leave them.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from simulator.kernel import ModelKernel
from simulator.kernel.trace import Tracer
from simulator.observe import CATEGORY, TraceEvent, TraceKind
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN


def _registered(n: int) -> tuple[ModelKernel, int, int]:
    """A traced model with `n` descriptors in one epoll, and one more socket to add."""
    k = ModelKernel(nofile=n + 64)
    ep = k.epoll_create()
    for _ in range(n // 2):
        for fd in k.socketpair():
            k.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN)
    return k, ep, k.socketpair()[0]


def test_a_traced_add_enters_the_tracer_once_per_descent_not_per_comparison() -> None:
    k, ep, fd = _registered(4096)
    tracer_code = {
        code
        for name in ("charge", "charge_compares", "record_free")
        if (code := getattr(getattr(Tracer, name, None), "__code__", None)) is not None
    }
    entries = 0

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal entries
        if event == "call":
            entries += frame.f_code in tracer_code

    sys.setprofile(profile)
    try:
        k.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN)
    finally:
        sys.setprofile(None)
    compares = sum(e.kind is TraceKind.TREE_COMPARE for e in k.trace)
    assert compares >= 2 * 12  # two descents of a tree of 4,096 keys
    others = len(k.trace) - compares
    assert entries == others + 2  # the two descents, then one call per other micro-step


def test_the_observer_sees_each_comparison_with_the_cost_charged_so_far() -> None:
    k, ep, fd = _registered(512)
    seen: list[tuple[TraceEvent, int, int]] = []
    k.observe(lambda event: seen.append((event, len(k.trace), k.last_cost.tree_compare)))
    k.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN)
    k.observe(None)
    assert [event for event, _, _ in seen] == k.trace
    charged = 0
    for number, (event, length, compares) in enumerate(seen, 1):
        if CATEGORY.get(event.kind) == "tree_compare":
            charged += event.charged
        assert (length, compares) == (number, charged), event
    assert charged == k.last_cost.tree_compare > 0


def test_events_are_immutable_and_read_by_name() -> None:
    tracer = Tracer()
    key, lower, higher = (1, 5), (1, 3), (1, 7)
    tracer.charge_compares("t", key, [lower, higher, key], ["right", "left", "found"])
    events = tracer.events
    assert [(e.kind, e.key, e.other, e.side, e.charged) for e in events] == [
        (TraceKind.TREE_COMPARE, key, lower, "right", 1),
        (TraceKind.TREE_COMPARE, key, higher, "left", 1),
        (TraceKind.TREE_COMPARE, key, key, "found", 1),
    ]
    assert [e.seq for e in events] == [1, 2, 3] and tracer.cost.tree_compare == 3
    assert events[0].detail == "(1, 5) vs (1, 3): right"
    try:
        events[0].side = "left"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("a trace event could be changed")
    tracer.charge(TraceKind.TREE_INSERT, "t", 0, "{e.key!r}", key=(1, 2))
    assert tracer.events[-1].seq == 4 and tracer.events[-1].detail == "(1, 2)"
