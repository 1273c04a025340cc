"""Trace events are structured: typed fields, prose rendered from them, cost charged with them.

Every shipped scenario is run on the model alone (tracing on, as the player runs it): each
call's events must account for its whole cost (no cost counted without its event), and the
fields a viewer draws from must be set on the events that have them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.trace import Tracer
from simulator.observe import CATEGORY, Cost, TraceEvent, TraceKind
from simulator.scenario.loader import load_scenario
from simulator.scenario.runner import Runner, default_model_factory
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN, Sqe

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_cost_is_charged_with_its_event(path: Path) -> None:
    with Runner(load_scenario(path), default_model_factory, None) as runner:
        for record in runner:
            if record.cost is None:
                continue
            charged: Counter[str] = Counter()
            for event in record.trace:
                category = CATEGORY.get(event.kind)
                if category is None:
                    assert event.charged == 0, event
                else:
                    charged[category] += event.charged
            expected = {k: v for k, v in record.cost.as_dict().items() if v}
            assert dict(+charged) == expected, f"{path.name} step {record.index + 1}"


def test_tree_events_carry_keys_sides_and_colours() -> None:
    k = ModelKernel()
    ep = k.epoll_create()
    socks = [k.socketpair()[0] for _ in range(3)]
    for fd in socks[:2]:
        k.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN)
    k.epoll_ctl(ep, EPOLL_CTL_ADD, socks[2], EPOLLIN)  # the third insert rotates
    events = list(k.trace)
    insert = next(e for e in events if e.kind is TraceKind.TREE_INSERT)
    assert insert.key is not None and insert.key[1] == socks[2]
    assert insert.detail == repr(insert.key)
    compares = [e for e in events if e.kind is TraceKind.TREE_COMPARE]
    assert compares and all(e.key == insert.key and e.other is not None for e in compares)
    assert {e.side for e in compares} <= {"left", "right", "found"}
    rotate = next(e for e in events if e.kind is TraceKind.TREE_ROTATE)
    assert rotate.side in ("left", "right") and rotate.key is not None
    assert rotate.detail == f"{rotate.side} at {rotate.key!r}"
    recolours = [e for e in events if e.kind is TraceKind.TREE_RECOLOR]
    assert recolours and all(isinstance(e.red, bool) for e in recolours)
    assert all(e.detail.endswith(e.colour) for e in recolours)


def test_list_and_descriptor_events_name_their_fd_and_list() -> None:
    k = ModelKernel()
    ep = k.epoll_create()
    a, b = k.socketpair()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
    k.send(b, 1)
    append = next(e for e in k.trace if e.kind is TraceKind.LIST_APPEND)
    assert (append.list, append.fd) == ("rdllist", a)
    wake = next(e for e in k.trace if e.kind is TraceKind.WAKEUP)
    assert wake.mask is not None and wake.detail == f"key={wake.mask:#x}"
    k.epoll_wait(ep, 8, 0)
    out = next(e for e in k.trace if e.kind is TraceKind.COPY_OUT)
    assert out.fd == a and out.mask == EPOLLIN
    c, _ = k.socketpair()
    alloc = [e for e in k.trace if e.kind is TraceKind.FD_ALLOC]
    assert [e.fd for e in alloc] == [c, c + 1]


def test_prose_is_rendered_only_when_read() -> None:
    tracer = Tracer()

    class Loud:
        seen = 0

        def __format__(self, spec: str) -> str:
            Loud.seen += 1
            return "loud"

    tracer.charge(TraceKind.TREE_INSERT, "t", 0, "{e.subject}", subject=Loud())  # type: ignore[arg-type]
    assert Loud.seen == 0
    assert tracer.events[-1].detail == "loud"
    assert Loud.seen == 1


def _event(kind: TraceKind, where: str, **fields: object) -> TraceEvent:
    # The prose says nothing a viewer needs: it must draw from the fields.
    return TraceEvent(1, 0, kind, where, form="(prose without numbers)", **fields)  # type: ignore[arg-type]


def test_the_tui_draws_micro_steps_from_fields_not_prose() -> None:
    from tui.render.nic_lane import stage_of
    from tui.render.rbtree_art import ShapeNode, TreeShape
    from tui.widgets.interest_tree import _focus
    from tui.widgets.ready_list import event_fd

    a, b = (8, 3), (9, 5)
    shape = TreeShape(a, {a: ShapeNode(a, "3", False, right=b), b: ShapeNode(b, "5", True)}, 2)
    compare = _event(TraceKind.TREE_COMPARE, "epoll4.rbr", key=(10, 7), other=b, side="right")
    assert _focus(compare, shape, "epoll4") == [b]
    rotate = _event(TraceKind.TREE_ROTATE, "epoll4.rbr", key=a, side="left")
    assert _focus(rotate, shape, "epoll4") == [a]
    append = _event(TraceKind.LIST_APPEND, "epoll4.rdllist", fd=5, list="rdllist")
    assert event_fd(append) == 5
    assert _focus(append, shape, "epoll4") == [b]
    assert stage_of(append) is not None
    assert stage_of(_event(TraceKind.LIST_APPEND, "epoll4.ovflist", fd=5, list="ovflist")) is None


def test_an_io_uring_request_s_journey_is_traced_with_the_kernel_s_names() -> None:
    """A RECV parked before data, completed by a send, reaped: one event per step, named after
    the kernel function that makes it, in the kernel's order; the journey itself costs
    nothing (the costs are those of the copies, the hook and the wake-up)."""
    k = ModelKernel()
    conn, client = k.socketpair()
    ring = k.io_uring_setup(4)

    def journey() -> list[tuple[str, str]]:
        return [
            (e.kind.value, e.detail.split(":")[0]) for e in k.trace if e.kind is not TraceKind.CALL
        ]

    k.io_uring_submit(ring, [Sqe("RECV", fd=conn, nbytes=100, user_data=1)])
    assert journey() == [
        ("copy.in", "io_submit_sqes"),
        ("sqe.issue", "io_issue_sqe"),
        ("sqe.park", "io_arm_poll_handler"),
        ("wait.add", "io_uring5 poll ud=1"),
    ]
    assert k.last_cost.as_dict() == {**Cost().as_dict(), "copy_in": 1, "list_op": 1}
    k.send(client, 5)
    assert journey()[1:] == [
        ("wakeup", "key=0xc3"),
        ("callback", "io_uring5 poll ud=1"),  # io_poll_wake
        ("wait.remove", "io_uring5 poll ud=1"),
        ("task_work.add", "io_req_task_work_add"),
        ("task_work.run", "io_poll_task_func"),
        ("sqe.issue", "io_issue_sqe"),
        ("copy.out", "io_req_complete_post"),
    ]
    k.io_uring_wait(ring, 1, 0)
    assert journey() == [("cqe.reap", "the program reaps CQE user_data=1 res=5")]
    assert k.last_cost.total == 0  # reading the shared ring is no syscall work


def test_the_proactor_lane_lights_only_the_rings_copies() -> None:
    from tui.render.nic_lane import PROACTOR_STAGES, stage_of

    sqe = _event(TraceKind.COPY_IN, "io_uring5.sq", list="sq")
    cqe = _event(TraceKind.COPY_OUT, "io_uring5.cq", list="cq")
    assert [PROACTOR_STAGES[stage_of(e, proactor=True) or 0][0] for e in (sqe, cqe)] == [
        "SQE",
        "CQE",
    ]
    assert stage_of(_event(TraceKind.COPY_OUT, "epoll4", count=2), proactor=True) is None
    assert stage_of(sqe) is None and stage_of(cqe) is None  # not on the reactor's lane
