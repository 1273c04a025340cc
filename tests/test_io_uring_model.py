"""The io_uring model on its own: ring invariants after every call, and what it costs.

The behaviour itself is held to the real kernel in ``test_diff_io_uring.py``; here are the
model's internals, which the real kernel cannot show: `IoRing._check()` after each step, and the
cost counters the reactor-vs-proactor lesson compares.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.kernel import ModelKernel
from simulator.kernel.io_uring import IoRing
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN, IOSQE_IO_LINK, Cqe, Sqe


def ring_of(kernel: ModelKernel, fd: int) -> IoRing:
    ring = kernel.file(fd)
    assert isinstance(ring, IoRing)
    return ring


def test_invariants_hold_through_parking_overflow_and_cancel() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    fd = k.io_uring_setup(1)  # SQ 1, CQ 2: overflow is one NOP away
    ring = ring_of(k, fd)
    steps: list[Callable[[], object]] = [
        lambda: k.io_uring_submit(fd, [Sqe("RECV", a, 10, user_data=1)]),
        lambda: k.io_uring_submit(fd, [Sqe("TIMEOUT", timeout_ms=5, user_data=2)]),
        lambda: k.io_uring_submit(fd, [Sqe("NOP", user_data=3)]),
        lambda: k.io_uring_submit(fd, [Sqe("NOP", user_data=4)]),
        lambda: k.io_uring_submit(fd, [Sqe("NOP", user_data=5)]),
        lambda: k.send(b, 3),
        lambda: k.io_uring_submit(fd, [Sqe("ASYNC_CANCEL", user_data=2)]),
    ]
    for step in steps:
        step()
        ring._check()
    assert len(ring.cq.overflow) == 4  # 3, 4 filled the CQ; 5, the RECV, the cancel, the timeout
    assert k.io_uring_wait(fd, 0, 0) == [Cqe(3, 0), Cqe(4, 0)]
    ring._check()
    assert k.io_uring_wait(fd, 0, 0) == [Cqe(5, 0), Cqe(1, 3)]
    assert k.io_uring_wait(fd, 0, 0) == [Cqe(2, 0), Cqe(2, -125)]
    assert not ring.parked and not ring.cq.overflow


def test_a_parked_request_is_an_entry_on_the_sockets_wait_queue() -> None:
    """Beside epoll's entries: what the TUI will draw (the lesson's picture)."""
    k = ModelKernel()
    a, _b = k.socketpair()
    ep = k.epoll_create()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
    fd = k.io_uring_setup(4)
    k.io_uring_submit(fd, [Sqe("RECV", a, 10, user_data=7)])
    sock = k.file(a)
    assert sock is not None
    labels = [entry.label for entry in sock.wq.entries]
    assert labels[0] == f"io_uring{fd} poll ud=7" and len(labels) == 2
    assert sock.f_count == 2  # the descriptor and the request in flight


def test_costs_one_call_for_a_batch_and_no_reaping_work() -> None:
    """A batch of n SQEs is one call that reads n SQEs (copy_in) and writes a CQE per inline
    completion (copy_out); reaping ready completions costs the kernel nothing."""
    k = ModelKernel()
    a, b = k.socketpair()
    fd = k.io_uring_setup(8)
    k.send(b, 30)
    calls = k.calls
    k.io_uring_submit(fd, [Sqe("RECV", a, 10, user_data=i) for i in range(3)])
    assert k.calls == calls + 1
    cost = k.last_cost
    assert (cost.copy_in, cost.copy_out, cost.wakeup) == (3, 3, 0)
    k.io_uring_wait(fd, 3, 0)
    assert k.last_cost.total == 0


def test_the_wake_up_that_completes_a_parked_recv_is_charged_to_the_waker() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    fd = k.io_uring_setup(8)
    k.io_uring_submit(fd, [Sqe("RECV", a, 10, user_data=1)])
    k.send(b, 4)
    cost = k.last_cost
    assert cost.wakeup == 1 and cost.callback == 1 and cost.copy_out == 1


def test_a_link_chain_cut_by_the_end_of_the_batch_still_runs() -> None:
    k = ModelKernel()
    fd = k.io_uring_setup(8)
    assert k.io_uring_submit(fd, [Sqe("NOP", user_data=1, flags=IOSQE_IO_LINK)]) == 1
    assert k.io_uring_wait(fd, 1, 0) == [Cqe(1, 0)]
