"""What a registered descriptor costs in memory: the model must hold a million of them.

Counted with ``tracemalloc`` (allocation, not time, so the figure is the same on every run of
one Python): a socket pair with both ends in one epoll stays well under the 4 KB it took when
every file had a ``__dict__`` and every socket an empty receive ``deque``
(``tests/benchmarks/bench_epoll_scale.py --memory`` measures it at scale).
"""

from __future__ import annotations

import gc
import tracemalloc

from simulator.kernel import ModelKernel
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN

PAIRS = 2_000


def test_a_registered_socket_pair_takes_less_than_2_5_kb() -> None:
    k = ModelKernel(nofile=2 * PAIRS + 64, trace=False)
    ep = k.epoll_create()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(PAIRS):
            a, b = k.socketpair()
            k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
            k.epoll_ctl(ep, EPOLL_CTL_ADD, b, EPOLLIN)
        gc.collect()
        per_pair = (tracemalloc.get_traced_memory()[0] - before) / PAIRS
    finally:
        tracemalloc.stop()
    assert per_pair < 2_560, f"{per_pair:.0f} bytes per registered socket pair"


def test_sockets_and_epolls_keep_their_fields_in_slots() -> None:
    k = ModelKernel()
    a, _b = k.socketpair()
    ep = k.epoll_create()
    for fd in (a, ep):
        file = k.file(fd)
        assert file is not None and not hasattr(file, "__dict__"), file


def test_a_socket_receive_queue_is_made_by_the_first_bytes_and_drains() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    try:
        k.recv(a, 10)
    except BlockingIOError:
        pass
    else:
        raise AssertionError("recv on an empty socket did not say EAGAIN")
    assert k.send(b, 5) == 5 and k.send(b, 3) == 3
    assert k.recv(a, 6) == 6 and k.recv(a, 6) == 2
    k.close(b)
    assert k.recv(a, 6) == 0  # end of stream once the peer is gone
