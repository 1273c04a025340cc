"""LiveKernel against the real kernel alone: the child process, fd numbering, errors, settling.

These pin down the live engine itself; the differential tests (model vs live) live elsewhere.
Numbers asserted here were measured on the reference machine (Linux 6.18, x86-64) and are
kernel facts, not muxlab choices: each says where it comes from.
"""

from __future__ import annotations

import errno
import os
import resource
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import uapi
from simulator.live import LiveKernel

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the live engine tests are Linux")

ADD, DEL, MOD = uapi.EPOLL_CTL_ADD, uapi.EPOLL_CTL_DEL, uapi.EPOLL_CTL_MOD
IN, OUT = uapi.EPOLLIN, uapi.EPOLLOUT


@pytest.fixture
def kernel() -> Iterator[LiveKernel]:
    with LiveKernel(wait_bound_s=0.1) as live:
        yield live


def open_fds(pid: int) -> set[int]:
    return {int(name) for name in os.listdir(f"/proc/{pid}/fd")}


def status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise LookupError(name)


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


# --- the child process -----------------------------------------------------------------------


def test_child_starts_with_stdio_only_and_a_64_slot_table() -> None:
    # A high descriptor in the parent would be inherited as a large fd table (fork copies the
    # table at the parent's size); the child must start from the kernel's initial 64 slots.
    high = os.dup2(os.open(os.devnull, os.O_RDONLY), 300)
    try:
        with LiveKernel() as live:
            assert open_fds(live.pid) == {0, 1, 2}
            assert status_field(live.pid, "FDSize") == "64"
            assert live.socketpair() == (3, 4)
    finally:
        os.close(high)


def test_kernel_satisfies_the_protocol(kernel: LiveKernel) -> None:
    assert isinstance(kernel, uapi.Kernel)
    assert kernel.alive


def test_fds_take_the_lowest_free_number(kernel: LiveKernel) -> None:
    assert kernel.socketpair() == (3, 4)
    assert kernel.epoll_create() == 5
    kernel.close(3)
    assert kernel.open_file() == 3
    kernel.close(4)
    assert kernel.dup(5) == 4
    assert kernel.tcp_listen() == 6
    assert open_fds(kernel.pid) == {0, 1, 2, 3, 4, 5, 6}


def test_setrlimit_changes_the_child_only(kernel: LiveKernel) -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    kernel.setrlimit_nofile(10)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
    limits = Path(f"/proc/{kernel.pid}/limits").read_text()
    assert any(line.startswith("Max open files") and " 10 " in line for line in limits.splitlines())


def test_emfile_at_a_lowered_limit(kernel: LiveKernel) -> None:
    kernel.setrlimit_nofile(6)
    listener = kernel.tcp_listen()
    client = kernel.tcp_connect(listener)
    file = kernel.open_file()
    assert (listener, client, file) == (3, 4, 5)
    for call in (kernel.open_file, kernel.socketpair, lambda: kernel.accept(listener)):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.EMFILE
    kernel.close(file)
    with pytest.raises(OSError) as caught:
        kernel.socketpair()  # needs two free slots, one is left
    assert caught.value.errno == errno.EMFILE
    assert kernel.accept(listener) == 5
    # docs/kernel-spec.md SK-5: at the limit accept() fails EMFILE even with an empty queue...
    with pytest.raises(OSError) as caught:
        kernel.accept(listener)
    assert caught.value.errno == errno.EMFILE
    # ...and only below it does the empty queue show as EAGAIN.
    kernel.setrlimit_nofile(7)
    with pytest.raises(BlockingIOError):
        kernel.accept(listener)


def test_setrlimit_above_the_hard_limit_is_cpythons_valueerror(kernel: LiveKernel) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with pytest.raises(ValueError):
        kernel.setrlimit_nofile(hard + 1)


def test_close_all_reaps_the_child() -> None:
    live = LiveKernel()
    pid = live.pid
    live.socketpair()
    live.close_all()
    live.close_all()  # idempotent
    assert not live.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ChildProcessError):
        live.socketpair()


def test_a_dead_child_is_a_childprocesserror(kernel: LiveKernel) -> None:
    os.kill(kernel.pid, signal.SIGKILL)
    with pytest.raises(ChildProcessError, match="killed by signal 9") as caught:
        kernel.socketpair()
    assert caught.value.errno is None  # not to be mistaken for a kernel's answer
    assert not kernel.alive


def test_killing_the_parent_leaves_no_orphan() -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from simulator.live import LiveKernel
        live = LiveKernel()
        print(live.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert running(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not running(child)


def test_a_kernel_made_in_a_short_lived_thread_keeps_its_child() -> None:
    # PR_SET_PDEATHSIG fires when the thread that forked the child exits (prctl(2)).
    made: list[LiveKernel] = []
    worker = threading.Thread(target=lambda: made.append(LiveKernel()))
    worker.start()
    worker.join()
    with made[0] as live:
        time.sleep(0.05)
        assert live.alive
        assert live.socketpair() == (3, 4)


# --- errors come back as CPython raised them -------------------------------------------------


def test_close_of_an_unopened_fd_is_ebadf(kernel: LiveKernel) -> None:
    with pytest.raises(OSError) as caught:
        kernel.close(50)
    assert type(caught.value) is OSError
    assert caught.value.errno == errno.EBADF
    assert caught.value.strerror == os.strerror(errno.EBADF)


def test_epoll_ctl_errors(kernel: LiveKernel) -> None:
    a, _b = kernel.socketpair()
    ep = kernel.epoll_create()
    kernel.epoll_ctl(ep, ADD, a, IN)
    with pytest.raises(FileExistsError):
        kernel.epoll_ctl(ep, ADD, a, IN)
    with pytest.raises(FileNotFoundError):
        kernel.epoll_ctl(ep, MOD, _b, IN)
    with pytest.raises(PermissionError):
        kernel.epoll_ctl(ep, ADD, kernel.open_file(), IN)
    inner = kernel.epoll_create()
    kernel.epoll_ctl(ep, ADD, inner, IN)
    with pytest.raises(OSError) as caught:
        kernel.epoll_ctl(inner, ADD, ep, IN)
    assert caught.value.errno == errno.ELOOP
    with pytest.raises(OSError) as caught:
        kernel.epoll_ctl(ep, ADD, ep, IN)
    assert caught.value.errno == errno.EINVAL
    with pytest.raises(ValueError, match=r"^file descriptor cannot be a negative integer \(-1\)$"):
        kernel.epoll_ctl(ep, ADD, -1, IN)


@pytest.mark.parametrize(
    ("epfd", "op", "target", "expected"),
    [
        # docs/kernel-spec.md EP-25: epfd is looked up before fd, fd before the file's poll method,
        # the poll method before "is epfd an epoll", and the op is judged last.
        pytest.param("unopened", ADD, "socket", errno.EBADF, id="unopened-epfd"),
        pytest.param("epoll", ADD, "unopened", errno.EBADF, id="unopened-fd"),
        pytest.param("socket", ADD, "file", errno.EPERM, id="file-before-epfd-type"),
        pytest.param("socket", ADD, "socket", errno.EINVAL, id="epfd-not-an-epoll"),
        pytest.param("dup", ADD, "socket", 0, id="a-dup-of-an-epoll-works"),
        pytest.param("unopened", 99, "socket", errno.EBADF, id="bad-op-after-ebadf"),
        pytest.param("epoll", 99, "socket", errno.EINVAL, id="bad-op"),
    ],
)
def test_epoll_ctl_error_precedence(
    kernel: LiveKernel, epfd: str, op: int, target: str, expected: int
) -> None:
    a, _b = kernel.socketpair()
    ep = kernel.epoll_create()
    fds = {
        "socket": a,
        "epoll": ep,
        "file": kernel.open_file(),
        "dup": kernel.dup(ep),
        "unopened": 40,
    }
    if expected == 0:
        kernel.epoll_ctl(fds[epfd], op, fds[target], IN)
        assert [entry["tfd"] for entry in kernel.fdinfo(ep)] == [a]
        return
    with pytest.raises(OSError) as caught:
        kernel.epoll_ctl(fds[epfd], op, fds[target], IN)
    assert caught.value.errno == expected


def test_epoll_ctl_uses_the_mask_as_given(kernel: LiveKernel) -> None:
    a, b = kernel.socketpair()
    ep = kernel.epoll_create()
    kernel.epoll_ctl(ep, ADD, a)  # events=0: no default IN|PRI|OUT as CPython's register has
    kernel.epoll_ctl(ep, ADD, b, IN | (1 << 20))
    entries = {entry["tfd"]: entry for entry in kernel.fdinfo(ep)}
    # docs/kernel-spec.md EP-18/EP-19: ERR|HUP are added; unknown bits are stored verbatim.
    assert entries[a]["events"] == uapi.EPOLLERR | uapi.EPOLLHUP
    assert entries[b]["events"] == 0x100019
    assert entries[b]["data"] == b
    assert kernel.epoll_wait(ep, 8, 0) == []


def test_fdinfo_rejects_what_is_not_an_epoll(kernel: LiveKernel) -> None:
    a, _b = kernel.socketpair()
    with pytest.raises(ValueError, match="not an epoll"):
        kernel.fdinfo(a)
    with pytest.raises(OSError) as caught:
        kernel.fdinfo(40)
    assert caught.value.errno == errno.EBADF


def test_epoll_wait_argument_checks(kernel: LiveKernel) -> None:
    ep = kernel.epoll_create()
    with pytest.raises(ValueError, match=r"^maxevents must be greater than 0, got 0$"):
        kernel.epoll_wait(ep, 0, 0)
    with pytest.raises(ValueError, match=r"^maxevents must be greater than 0, got -2$"):
        kernel.epoll_wait(ep, -2, 0)
    assert kernel.epoll_wait(ep, -1, 0) == []
    a, _b = kernel.socketpair()
    with pytest.raises(OSError) as caught:
        kernel.epoll_wait(a, 1, 0)
    assert caught.value.errno == errno.EINVAL


def test_select_argument_checks(kernel: LiveKernel) -> None:
    with pytest.raises(ValueError, match="filedescriptor out of range in select"):
        kernel.select([1024], [], [], 0)
    with pytest.raises(ValueError, match="timeout must be non-negative"):
        kernel.select([], [], [], -1)


def test_select_skips_fds_beyond_the_table_capacity(kernel: LiveKernel) -> None:
    # docs/kernel-spec.md PS-4: select(2) clips nfds to the fd table's capacity (64 slots); the
    # bit of an unopened fd past it is never examined nor cleared, so CPython reports it as ready.
    assert kernel.select([70], [], [], 0) == ([70], [], [])
    with pytest.raises(OSError) as caught:
        kernel.select([50], [], [], 0)
    assert caught.value.errno == errno.EBADF


def test_send_recv_on_what_is_not_a_socket_is_enotsock(kernel: LiveKernel) -> None:
    file = kernel.open_file()
    ep = kernel.epoll_create()
    for call in (
        lambda: kernel.send(file, 1),
        lambda: kernel.recv(ep, 1),
        lambda: kernel.shutdown(file, uapi.SHUT_WR),
    ):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.ENOTSOCK
    assert open_fds(kernel.pid) == {0, 1, 2, file, ep}


def test_send_after_the_peer_closed_is_brokenpipe(kernel: LiveKernel) -> None:
    a, b = kernel.socketpair()
    kernel.close(b)
    with pytest.raises(BrokenPipeError):
        kernel.send(a, 1)


@pytest.mark.skipif(hasattr(select, "kqueue"), reason="kqueue exists on this platform")
def test_kqueue_is_enosys_on_linux(kernel: LiveKernel) -> None:
    for call in (kernel.kqueue, lambda: kernel.kevent(3, [uapi.KEvent(4)], 1, 0)):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.ENOSYS


# --- results ---------------------------------------------------------------------------------


def test_fill_of_a_socketpair(kernel: LiveKernel) -> None:
    a, _b = kernel.socketpair()
    # 65536-byte sends into the default SO_SNDBUF (212992) on Linux 6.18 x86-64: three whole
    # chunks, then 36544 bytes, because each skb is charged at its truesize
    # (docs/kernel-spec.md SK-4).
    assert kernel.fill(a) == 233152
    with pytest.raises(BlockingIOError):
        kernel.send(a, 1)
    assert kernel.fill(a) == 0


def test_epoll_reports_the_registered_fd_in_ready_order(kernel: LiveKernel) -> None:
    pairs = [kernel.socketpair() for _ in range(3)]
    ep = kernel.epoll_create()
    for a, _b in pairs:
        kernel.epoll_ctl(ep, ADD, a, IN)
    for index in (2, 0, 1):
        kernel.send(pairs[index][1], 1)
    assert kernel.epoll_wait(ep, 8, 0) == [(pairs[i][0], IN) for i in (2, 0, 1)]
    assert kernel.epoll_wait(ep, 2, 10) == [(pairs[i][0], IN) for i in (2, 0)]


def test_poll_keeps_the_first_position_of_a_reregistered_fd(kernel: LiveKernel) -> None:
    a, b = kernel.socketpair()
    kernel.send(b, 1)
    assert kernel.poll([(a, OUT), (b, OUT), (a, IN)], 0) == [(a, IN), (b, OUT)]
    assert kernel.poll([(40, 0)], 0) == [(40, uapi.POLLNVAL)]


def test_tcp_connect_completes_the_handshake(kernel: LiveKernel) -> None:
    listener = kernel.tcp_listen()
    assert kernel.poll([(listener, IN)], 0) == []
    client = kernel.tcp_connect(listener)
    assert kernel.poll([(listener, IN), (client, OUT)], 0) == [(listener, IN), (client, OUT)]
    server = kernel.accept(listener)
    with pytest.raises(BlockingIOError):
        kernel.accept(listener)
    assert kernel.send(client, 100) == 100
    assert kernel.recv(server, 1000) == 100
    kernel.close(client)
    # docs/kernel-spec.md SK-3: a TCP peer's close() is a FIN: RDHUP, no HUP.
    full = IN | OUT | uapi.EPOLLRDHUP
    assert kernel.poll([(server, full)], 0) == [(server, full)]
    assert kernel.recv(server, 1000) == 0


def tcp_send_queue(pid: int, fd: int) -> int:
    """tx_queue of the child's socket `fd` in /proc/net/tcp: bytes not yet acknowledged."""
    inode = os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").removesuffix("]")
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if columns[9] == inode:
            return int(columns[4].split(":")[0], 16)
    raise LookupError(fd)


def test_tcp_send_returns_once_the_bytes_are_acknowledged(kernel: LiveKernel) -> None:
    listener = kernel.tcp_listen()
    client = kernel.tcp_connect(listener)
    kernel.accept(listener)
    # Past the connection's 16 quick ACKs the receiver, holding unread data, delays its ACKs
    # (~40 ms): send() must wait for them, or the sender's queue would still hold the bytes.
    for _ in range(20):
        kernel.send(client, 10)
        assert tcp_send_queue(kernel.pid, client) == 0


def test_an_infinite_wait_is_bounded(kernel: LiveKernel) -> None:
    a, _b = kernel.socketpair()
    ep = kernel.epoll_create()
    kernel.epoll_ctl(ep, ADD, a, IN)
    started = time.monotonic()
    with pytest.raises(uapi.WaitForeverError):
        kernel.epoll_wait(ep, 1, -1)
    with pytest.raises(uapi.WaitForeverError):
        kernel.poll([(a, IN)], -1)
    with pytest.raises(uapi.WaitForeverError):
        kernel.select([a], [], [], None)
    assert time.monotonic() - started >= 3 * kernel.wait_bound_s
    assert kernel.select([a], [a], [], None) == ([], [a], [])


def test_tcp_fill_leaves_the_buffer_full_at_quiescence(kernel: LiveKernel) -> None:
    listener = kernel.tcp_listen()
    client = kernel.tcp_connect(listener)
    server = kernel.accept(listener)
    assert kernel.fill(client) > 0  # 4243968 on the reference machine: autotuned, not pinned
    assert kernel.poll([(client, OUT)], 0) == []
    with pytest.raises(BlockingIOError):
        kernel.send(client, 1)
    assert kernel.poll([(server, IN)], 0) == [(server, IN)]


def test_tcp_abort_resets_the_peer(kernel: LiveKernel) -> None:
    listener = kernel.tcp_listen()
    client = kernel.tcp_connect(listener)
    server = kernel.accept(listener)
    kernel.abort(client)
    # docs/kernel-spec.md SK-3: SO_LINGER {1, 0} close sends RST: the peer sees ERR|HUP at once.
    errors = uapi.EPOLLERR | uapi.EPOLLHUP
    assert kernel.poll([(server, 0)], 0) == [(server, errors)]
    with pytest.raises(ConnectionResetError):
        kernel.recv(server, 1)
