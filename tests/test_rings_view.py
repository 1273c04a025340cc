"""The io_uring picture (`tui.render.rings.RingsView`): the rings' heads and tails, the CQEs
waiting between them, the overflow list and what is parked where, drawn from the model's
snapshot (`ModelKernel.io_uring_at`) on a fixed-width console."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from simulator.kernel import ModelKernel
from simulator.scenario.calls import Bindings
from simulator.uapi import Sqe
from tui.render.rings import RingsView


def text_of(kernel: ModelKernel, fd: int, names: Bindings) -> str:
    ring = kernel.io_uring_at(fd)
    assert ring is not None
    console = Console(file=StringIO(), width=200, color_system=None)
    console.print(RingsView(ring, names, f"ring:{fd}"))
    out = console.file
    assert isinstance(out, StringIO)
    return out.getvalue()


def test_a_parked_recv_then_its_completion_between_head_and_tail() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    fd = k.io_uring_setup(2)
    names = Bindings()
    names.bind("conn", a)
    k.io_uring_submit(fd, [Sqe("RECV", a, 10, user_data=1), Sqe("TIMEOUT", timeout_ms=9)])
    assert text_of(k, fd, names).splitlines() == [
        f"ring:{fd} (io_uring)",
        "  SQ 2 slots, head 2, tail 2: empty (the kernel consumed every SQE)",
        "  CQ 4 slots, head 0, tail 0: HT · | · | · | ·",
        f"  in flight: ud=1 RECV parked on conn:{a}'s wait queue; ud=0 TIMEOUT on a timer",
    ]
    k.send(b, 3)
    for _ in range(4):
        k.io_uring_submit(fd, [Sqe("NOP", user_data=7)])
    lines = text_of(k, fd, names).splitlines()
    assert (
        lines[2]
        == "  CQ 4 slots, head 0, tail 4: HT ud=1 res=3 | ud=7 res=0 | ud=7 res=0 | ud=7 res=0"
    )
    assert lines[3] == "  CQ overflow (1): ud=7 res=0"
    k.io_uring_wait(fd, 0, 0)
    assert text_of(k, fd, names).splitlines()[2] == "  CQ 4 slots, head 4, tail 4: HT · | · | · | ·"


def test_io_uring_at_is_none_for_other_files() -> None:
    k = ModelKernel()
    a, _b = k.socketpair()
    assert k.io_uring_at(a) is None
    assert k.io_uring_at(99) is None
