"""IOCP, Windows' completion port: MODEL ONLY (docs/kernel-spec.md PART I).

Linux has no completion port, so these rules cannot be held to a real kernel: they are the
model's reading of Windows' documentation (the IC-n items of PART I), checked here on the model
alone. The live kernel's side is one rule: every IOCP call answers ENOSYS (tested last, on a
real child process), which the runner labels "model only".
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.iocp import CompletionPort
from simulator.live import LiveKernel
from simulator.scenario import calls, format, load_scenario, sandbox, vocabulary
from simulator.syscalls import CALLS
from simulator.uapi import (
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_IO_PENDING,
    WAIT_TIMEOUT,
    WSAECONNRESET,
    WSAENOTSOCK,
    CompletionPacket,
    WaitForeverError,
    Win32Error,
)
from tests.test_scenario_format import run_cli


def port_of(k: ModelKernel, fd: int) -> CompletionPort:
    port = k.file(fd)
    assert isinstance(port, CompletionPort)
    return port


def winerror(exc: pytest.ExceptionInfo[Win32Error]) -> int:
    return exc.value.winerror


def test_create_then_associate_returns_the_same_port() -> None:
    """IC-1: no file makes a port; a file and a port associate, returning that port."""
    k = ModelKernel()
    a, _ = k.socketpair()
    port = k.CreateIoCompletionPort()
    assert k.CreateIoCompletionPort(a, port, 7) == port
    assert port_of(k, port).keys == {k.file(a): 7}


def test_a_file_and_no_port_makes_a_new_port_already_associated() -> None:
    """IC-1: CreateIoCompletionPort(file, NULL, key) creates and associates in one call."""
    k = ModelKernel()
    a, _ = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=3)
    assert port_of(k, port).keys == {k.file(a): 3}


def test_bad_handles_and_a_second_association_are_refused() -> None:
    """IC-2: a closed handle or a port that is not one: ERROR_INVALID_HANDLE; a socket already
    associated, or a port given without a file: ERROR_INVALID_PARAMETER."""
    k = ModelKernel()
    a, _ = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=1)
    with pytest.raises(Win32Error) as caught:
        k.CreateIoCompletionPort(a, port, 2)
    assert winerror(caught) == ERROR_INVALID_PARAMETER
    with pytest.raises(Win32Error) as caught:
        k.CreateIoCompletionPort(99, port, 2)
    assert winerror(caught) == ERROR_INVALID_HANDLE
    _, b2 = k.socketpair()
    with pytest.raises(Win32Error) as caught:
        k.CreateIoCompletionPort(b2, a, 2)  # `a` is a socket, not a port
    assert winerror(caught) == ERROR_INVALID_HANDLE
    with pytest.raises(Win32Error) as caught:
        k.CreateIoCompletionPort(port=port)
    assert winerror(caught) == ERROR_INVALID_PARAMETER
    with pytest.raises(Win32Error) as caught:
        k.GetQueuedCompletionStatus(a, 0)
    assert winerror(caught) == ERROR_INVALID_HANDLE


def test_a_receive_with_data_there_completes_at_once_and_still_queues_a_packet() -> None:
    """IC-3: data already queued: WSARecv returns the bytes, and a packet is queued too."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=7)
    k.send(b, 5)
    assert k.WSARecv(a, 100, 1) == 5
    assert k.GetQueuedCompletionStatus(port, 0) == [CompletionPacket(5, 7, 1)]


def test_a_receive_before_the_data_is_pending_then_completed_by_the_wake_up() -> None:
    """IC-4: nothing to read: ERROR_IO_PENDING and an entry on the socket's wait queue; the
    send's wake-up completes it (the bytes are taken from the socket by the kernel) and
    queues the packet."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=7)
    with pytest.raises(Win32Error) as caught:
        k.WSARecv(a, 100, 1)
    assert winerror(caught) == ERROR_IO_PENDING
    ctx = port_of(k, port)
    assert len(ctx.pending) == 1 and not ctx.packets
    ctx._check()
    k.send(b, 5)
    assert not ctx.pending
    assert k.GetQueuedCompletionStatus(port, 0) == [CompletionPacket(5, 7, 1)]
    with pytest.raises(BlockingIOError):
        k.recv(a, 100)  # the completion already took the bytes: nothing left to read


def test_pending_receives_complete_in_the_order_they_were_issued() -> None:
    """IC-4: two receives wait; one send's data goes to the first, the next to the second."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=7)
    for tag in (1, 2):
        with pytest.raises(Win32Error):
            k.WSARecv(a, 3, tag)
    k.send(b, 3)
    k.send(b, 2)
    got = k.GetQueuedCompletionStatusEx(port, 8, 0)
    assert got == [CompletionPacket(3, 7, 1), CompletionPacket(2, 7, 2)]


def test_a_send_completes_at_once_and_a_full_buffer_parks_it() -> None:
    """IC-5: WSASend as WSARecv, parked while the send buffer is full."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=9)
    assert k.WSASend(a, 4, 1) == 4
    k.fill(a)
    with pytest.raises(Win32Error) as caught:
        k.WSASend(a, 4, 2)
    assert winerror(caught) == ERROR_IO_PENDING
    k.recv(b, 1 << 20)
    packets = k.GetQueuedCompletionStatusEx(port, 8, 0)
    assert packets == [CompletionPacket(4, 9, 1), CompletionPacket(4, 9, 2)]


def test_an_empty_port_times_out_and_an_infinite_wait_on_nothing_is_forever() -> None:
    """IC-6: WAIT_TIMEOUT after the timeout; INFINITE with nothing in flight can never end."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    with pytest.raises(Win32Error) as caught:
        k.GetQueuedCompletionStatus(port, 5)
    assert winerror(caught) == WAIT_TIMEOUT
    assert k.now_ns >= 5_000_000
    with pytest.raises(WaitForeverError):
        k.GetQueuedCompletionStatusEx(port, 4, -1)


def test_a_wait_sleeps_until_the_pending_operation_completes() -> None:
    """IC-6: a pending receive and a peer whose data is in flight (TCP): the wait wakes on
    the packet."""
    k = ModelKernel()
    listener = k.tcp_listen()
    client = k.tcp_connect(listener)
    server = k.accept(listener)
    port = k.CreateIoCompletionPort(server, key=1)
    with pytest.raises(Win32Error):
        k.WSARecv(server, 10, 42)
    k.send(client, 6)
    assert k.GetQueuedCompletionStatus(port, -1) == [CompletionPacket(6, 1, 42)]


def test_dequeue_is_fifo_and_ex_takes_at_most_max_entries() -> None:
    """IC-7: packets leave in the order they were queued; posted packets are packets too."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    for tag in (1, 2, 3):
        k.PostQueuedCompletionStatus(port, tag * 10, 5, tag)
    assert k.GetQueuedCompletionStatusEx(port, 2, 0) == [
        CompletionPacket(10, 5, 1),
        CompletionPacket(20, 5, 2),
    ]
    assert k.GetQueuedCompletionStatus(port, 0) == [CompletionPacket(30, 5, 3)]
    with pytest.raises(Win32Error) as caught:
        k.GetQueuedCompletionStatusEx(port, 0, 0)
    assert winerror(caught) == ERROR_INVALID_PARAMETER


def test_overlapped_io_needs_a_socket_associated_with_a_port() -> None:
    """IC-8: not a socket: WSAENOTSOCK; not open: ERROR_INVALID_HANDLE; a socket with no port:
    ERROR_INVALID_PARAMETER (the model only completes through a port)."""
    k = ModelKernel()
    f = k.open_file()
    a, _ = k.socketpair()
    for fd, code in ((f, WSAENOTSOCK), (77, ERROR_INVALID_HANDLE), (a, ERROR_INVALID_PARAMETER)):
        with pytest.raises(Win32Error) as caught:
            k.WSARecv(fd, 1, 1)
        assert winerror(caught) == code


def test_closing_the_port_unhooks_pending_operations() -> None:
    """Closing the last port handle drops its pending operations' wait entries."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=1)
    with pytest.raises(Win32Error):
        k.WSARecv(a, 4, 1)
    sock = k.file(a)
    assert sock is not None and len(sock.wq.entries) == 1
    k.close(port)
    assert not sock.wq.entries
    k.send(b, 2)
    assert k.recv(a, 4) == 2  # the data stayed for the program: no completion took it


def test_the_live_kernel_refuses_every_iocp_call_with_enosys() -> None:
    """On Linux every IOCP call is OSError(ENOSYS), as kqueue is: the runner says model only."""
    iocp_calls = [name for name, call in CALLS.items() if call.mechanism == "iocp"]
    assert len(iocp_calls) == 6
    with LiveKernel(wait_bound_s=0.05) as live:
        a, _ = live.socketpair()
        arguments: dict[str, tuple[int, ...]] = {
            "CreateIoCompletionPort": (),
            "WSARecv": (a, 1, 1),
            "WSASend": (a, 1, 1),
            "GetQueuedCompletionStatus": (a, 0),
            "GetQueuedCompletionStatusEx": (a, 1, 0),
            "PostQueuedCompletionStatus": (a,),
        }
        for name in iocp_calls:
            with pytest.raises(OSError) as caught:
                getattr(live, name)(*arguments[name])
            assert caught.value.errno == errno.ENOSYS, name


def test_windows_errors_are_named_as_windows_names_them_in_scenarios() -> None:
    """Scenarios write Windows' names; a misspelt one gets a suggestion, not a traceback."""
    exc = Win32Error(WAIT_TIMEOUT)
    assert vocabulary.exception_name(exc) == "WAIT_TIMEOUT"
    assert str(exc) == "[WinError 258] WAIT_TIMEOUT"
    assert vocabulary.error_name("ERROR_IO_PENDING") == "ERROR_IO_PENDING"
    with pytest.raises(vocabulary.VocabularyError, match="did you mean 'WAIT_TIMEOUT'"):
        vocabulary.error_name("WAIT_TIMEOUTT")


def test_the_sandbox_prints_packets_as_overlapped_entries() -> None:
    """What a learner typing GetQueuedCompletionStatusEx(...) in the sandbox reads back."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    k.PostQueuedCompletionStatus(port, 5, 7, 1)
    spec = format.CALLS["GetQueuedCompletionStatusEx"]
    raw = calls.raw_of(spec, k.GetQueuedCompletionStatusEx(port, 8, 0))
    outcome = calls.Outcome(result=calls.named(spec.result, raw, calls.Bindings()), raw=raw)
    shown = sandbox.show_outcome(spec.result, outcome)
    assert shown == "[OVERLAPPED_ENTRY(bytes=5, key=7, overlapped=1)]"


def test_muxlab_check_reports_the_iocp_lesson_as_model_only_never_agreement() -> None:
    """Against the real kernel, every IOCP step of the lesson is model only; the socket steps
    around them agree."""
    lesson = Path(__file__).resolve().parent.parent / "scenarios" / "iocp.toml"
    steps = load_scenario(lesson).steps
    iocp_steps = sum(1 for step in steps if step.call.syscall.mechanism == "iocp")
    status, out, err = run_cli("check", str(lesson))
    assert status == 0, out + err
    summary = (
        f"1 scenarios, {len(steps)} steps: {len(steps) - iocp_steps} agree, 0 diverge, "
        f"0 expectation failed, {iocp_steps} model only"
    )
    assert out.splitlines()[-1] == summary


def test_a_pending_receive_completes_with_0_bytes_at_end_of_stream() -> None:
    """IC-5: the peer closes: the pending receive completes, 0 bytes (a graceful close)."""
    k = ModelKernel()
    a, b = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=4)
    with pytest.raises(Win32Error):
        k.WSARecv(a, 10, 1)
    k.close(b)
    assert k.GetQueuedCompletionStatus(port, 0) == [CompletionPacket(0, 4, 1)]


def test_a_pending_receive_reset_by_the_peer_completes_with_wsaeconnreset() -> None:
    """IC-5: a TCP reset fails the pending receive: its packet carries WSAECONNRESET."""
    k = ModelKernel()
    listener = k.tcp_listen()
    client = k.tcp_connect(listener)
    server = k.accept(listener)
    port = k.CreateIoCompletionPort(server, key=4)
    with pytest.raises(Win32Error):
        k.WSARecv(server, 10, 1)
    k.abort(client)
    assert k.GetQueuedCompletionStatus(port, 0) == [CompletionPacket(0, 4, 1, WSAECONNRESET)]


def test_one_ex_call_copies_out_every_packet_it_dequeues() -> None:
    """The batching the lesson shows: one GetQueuedCompletionStatusEx, one copy per entry."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    for tag in (1, 2, 3):
        k.PostQueuedCompletionStatus(port, 1, 1, tag)
        assert k.last_cost.as_dict()["list_op"] == 1  # the packet joins the queue
    k.GetQueuedCompletionStatusEx(port, 8, 0)
    assert k.last_cost.as_dict()["copy_out"] == 3


# --- IC-9: threads blocked on a port are released LIFO (model only: Windows) -----------------


def blocked_workers(k: ModelKernel, port: int, calls: list[str]) -> list[int]:
    """One spawned thread per call, each blocked on `port` (INFINITE), in that order."""
    tids = []
    for call in calls:
        tid = k.spawn_thread()
        args = (port, 8, -1) if call.endswith("Ex") else (port, -1)
        assert k.start(tid, call, *args) is False
        tids.append(tid)
    return tids


def test_the_thread_that_blocked_last_is_released_first_IC9() -> None:
    """IC-9: three workers block in turn; each packet releases the most recent waiter, with the
    oldest packet; the others sleep on."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    w1, w2, w3 = blocked_workers(k, port, ["GetQueuedCompletionStatus"] * 3)
    assert port_of(k, port).waiters[-1].label == "thread 3 in GetQueuedCompletionStatus"
    k.PostQueuedCompletionStatus(port, 1, 7, 70)
    assert [k.thread_state(t)[0] for t in (w1, w2, w3)] == ["sleeping", "sleeping", "finished"]
    assert k.join(w3) == [CompletionPacket(1, 7, 70)]
    k.PostQueuedCompletionStatus(port, 2, 7, 71)
    assert k.join(w2) == [CompletionPacket(2, 7, 71)]
    assert k.thread_state(w1) == ("sleeping", "GetQueuedCompletionStatus")
    assert not port_of(k, port).packets  # handed to the threads, never queued


def test_a_worker_that_blocks_again_is_on_top_and_runs_again_IC9() -> None:
    """IC-9: the point of LIFO: the thread that just ran (its cache warm) blocks again and is
    the next one released, while the others stay asleep."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    w1, w2 = blocked_workers(k, port, ["GetQueuedCompletionStatus"] * 2)
    for tag in (1, 2, 3):
        k.PostQueuedCompletionStatus(port, 0, 0, tag)
        assert k.last_cost.wakeup == 1  # one release, one wake-up: no herd
        assert k.join(w2) == [CompletionPacket(0, 0, tag)]
        assert k.start(w2, "GetQueuedCompletionStatus", port, -1) is False
    assert k.thread_state(w1) == ("sleeping", "GetQueuedCompletionStatus")


def test_one_wake_up_hands_packets_to_waiters_lifo_and_queues_the_rest_IC9() -> None:
    """IC-9: a send that completes three pending receives makes three packets in one call: the
    first two go to the two waiters, newest first; the third is queued, and an Ex caller
    released by this call takes it too when it runs."""
    k = ModelKernel()
    a, client = k.socketpair()
    port = k.CreateIoCompletionPort(a, key=1)
    for tag in (11, 12, 13):
        with pytest.raises(Win32Error) as caught:
            k.WSARecv(a, 5, tag)
        assert winerror(caught) == ERROR_IO_PENDING
    ex, one = blocked_workers(k, port, ["GetQueuedCompletionStatusEx", "GetQueuedCompletionStatus"])
    k.send(client, 15)
    assert k.join(one) == [CompletionPacket(5, 1, 11)]
    assert k.join(ex) == [CompletionPacket(5, 1, 12), CompletionPacket(5, 1, 13)]
    with pytest.raises(Win32Error) as caught:
        k.GetQueuedCompletionStatus(port, 0)
    assert winerror(caught) == WAIT_TIMEOUT


def test_a_waiter_that_times_out_leaves_the_stack_IC9() -> None:
    """IC-9: a worker whose timeout expires answers WAIT_TIMEOUT and is no longer released:
    the next packet goes to the one below it (or to the queue)."""
    k = ModelKernel()
    port = k.CreateIoCompletionPort()
    (w1,) = blocked_workers(k, port, ["GetQueuedCompletionStatus"])
    w2 = k.spawn_thread()
    assert k.start(w2, "GetQueuedCompletionStatus", port, 5) is False
    other = k.CreateIoCompletionPort()
    with pytest.raises(Win32Error):
        k.GetQueuedCompletionStatus(other, 10)  # thread 0 waits 10 ms: w2's 5 ms expire
    with pytest.raises(Win32Error) as caught:
        k.join(w2)
    assert winerror(caught) == WAIT_TIMEOUT
    assert [w.label for w in port_of(k, port).waiters] == ["thread 1 in GetQueuedCompletionStatus"]
    k.PostQueuedCompletionStatus(port, 0, 0, 9)
    assert k.join(w1) == [CompletionPacket(0, 0, 9)]
