"""The complexity lesson, asserted exactly: what each multiplexer's work depends on.

`last_cost` counts the kernel's unit operations for one call. epoll_wait's work depends on the
number of *ready* descriptors only; poll and select copy and scan every registered descriptor,
so their work grows linearly with N. These are exact counts of the model's work, not timings.
"""

from __future__ import annotations

from collections.abc import Iterator

from simulator.kernel import ModelKernel
from simulator.kernel.vfs import File
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN, POLLIN


def _world(n: int, ready: int) -> tuple[ModelKernel, list[int], int]:
    """`n` socketpairs, the first `ready` of them readable, all registered in one epoll."""
    k = ModelKernel(nofile=2 * n + 16, trace=False)
    ep = k.epoll_create()
    readers = []
    for i in range(n):
        a, b = k.socketpair()
        k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
        if i < ready:
            k.send(b, 1)
        readers.append(a)
    return k, readers, ep


def test_epoll_wait_cost_is_the_same_at_10_and_10000_registered_fds() -> None:
    costs = []
    for n in (10, 10_000):
        k, _readers, ep = _world(n, ready=5)
        assert len(k.epoll_wait(ep, 64, 0)) == 5
        costs.append(k.last_cost)
    assert costs[0] == costs[1]
    assert costs[0].copy_out == 5
    assert costs[0].fd_scan == 0 and costs[0].copy_in == 0


def test_poll_cost_is_linear_in_the_number_of_fds() -> None:
    totals = {}
    for n in (10, 100, 1000):
        k, readers, _ep = _world(n, ready=5)
        assert len(k.poll([(fd, POLLIN) for fd in readers], 0)) == 5
        totals[n] = k.last_cost
    per_fd = (totals[100].total - totals[10].total) / 90
    assert per_fd > 0
    assert (totals[1000].total - totals[100].total) / 900 == per_fd
    assert totals[1000].copy_in == 1000 and totals[1000].copy_out == 1000


def test_select_cost_grows_with_every_fd_passed() -> None:
    totals = {}
    for n in (10, 100, 400):
        k, readers, _ep = _world(n, ready=5)
        r, _w, _x = k.select(readers, [], [], 0)
        assert len(r) == 5
        totals[n] = k.last_cost.fd_scan
    per_fd = (totals[100] - totals[10]) / 90
    assert per_fd > 0
    assert (totals[400] - totals[100]) / 300 == per_fd


def test_epoll_ctl_add_cost_is_logarithmic_tree_compares() -> None:
    k, _readers, ep = _world(1023, ready=0)
    a, _b = k.socketpair()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
    # ep_find descends once, ep_insert once more; a red-black tree of 1023 nodes is at most
    # 2*log2(1024) = 20 levels deep.
    assert 2 <= k.last_cost.tree_compare <= 2 * 20


def test_a_blocking_poll_registers_and_removes_one_wait_entry_per_fd() -> None:
    k, readers, _ep = _world(50, ready=0)
    assert k.poll([(fd, POLLIN) for fd in readers], 5) == []
    assert k.last_cost.list_op == 2 * 50  # __pollwait on entry, poll_freewait on exit
    assert k.now_ns == 5_000_000  # the virtual clock advanced by the timeout


class _CountingSlots(dict[int, File]):
    """An fd table's slots that count the walks over all of them (``max``, ``sorted``...)."""

    walks = 0

    def __iter__(self) -> Iterator[int]:
        type(self).walks += 1
        return super().__iter__()


def test_the_highest_fd_is_found_without_walking_the_fd_table() -> None:
    # Issue 10: the player's fd table asks for the highest open descriptor at every repaint
    # (and at every micro-step it captures); with 5,000 open the table's capacity is 8,192,
    # so looking down from the capacity found nothing and fell back to ``max`` over every
    # slot: O(open descriptors) per frame.
    k = ModelKernel(nofile=6_000, trace=False)
    for _ in range(2_500):
        k.socketpair()
    k.close(5_002)  # a hole at the top: the highest is the one below it
    assert k.fdt.capacity == 8_192
    slots = _CountingSlots(k.fdt.slots)
    k.fdt.slots = slots
    assert k.highest_fd() == 5_001
    assert _CountingSlots.walks == 0
