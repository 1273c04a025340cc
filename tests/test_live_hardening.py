"""Hardening of the live engine and of the interpreters muxlab launches (issue 8).

Everything here runs the real thing: `muxlab` as a subprocess, the live child, real pipes.
"""

from __future__ import annotations

import os
import pickle
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator import conversions, uapi
from simulator.live import LiveKernel
from simulator.scenario.check import check_file
from simulator.scenario.runner import Verdict
from tests.twin import Twin
from tui import launch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the live engine is Linux")

MUXLAB = Path(sys.executable).with_name("muxlab")

LESSON = """\
[scenario]
title = "One pair"
summary = "A socketpair and one send."
mechanism = "epoll"

[[step]]
do = "socketpair"
as = ["a", "b"]

[[step]]
do = "send"
args = { fd = "b", nbytes = 5 }
expect = 5
"""


def plant_modules(folder: Path, *names: str) -> None:
    """Modules named like the standard library's (or ours) that leave a marker when imported."""
    for name in names:
        marker = folder / f"imported-{name}"
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")


IN = uapi.EPOLLIN


def open_fds(pid: int) -> set[int]:
    return {int(name) for name in os.listdir(f"/proc/{pid}/fd")}


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("imported-*"))


# --- item 1: no interpreter we launch imports from the user's directory ----------------------


def test_check_never_imports_modules_from_the_lesson_folder(tmp_path: Path) -> None:
    plant_modules(tmp_path, "tempfile", "socket", "struct", "ctypes", "simulator")
    (tmp_path / "lesson.toml").write_text(LESSON)
    done = subprocess.run(
        [str(MUXLAB), "check", "lesson.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 agree" in done.stdout
    assert markers(tmp_path) == []


def test_the_app_serve_launches_never_imports_from_the_working_directory(tmp_path: Path) -> None:
    # The command textual-serve runs (through a shell) for each browser tab, given a command
    # that ends at once instead of the app.
    plant_modules(tmp_path, "tui", "argparse", "json", "simulator")
    (tmp_path / "lesson.toml").write_text(LESSON)
    command = shlex.join([*launch.app_command(None), "validate", "lesson.toml"])
    done = subprocess.run(
        command, shell=True, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lesson.toml" in done.stdout
    assert markers(tmp_path) == []


# --- item 12: nothing of a run survives its end, however it ends -----------------------------

SLOW_LESSON = (
    LESSON
    + 8
    * """
[[step]]
do = "poll"
args = { fds = [["b", ["IN"]]], timeout_ms = 1500 }
expect = []
"""
)


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_for(predicate: Callable[[], object], what: str) -> None:
    for _ in range(2000):
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def holds_a_socket(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/fd/3").startswith("socket:")
    except FileNotFoundError:
        return False


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_a_killed_check_leaves_no_temporary_file(tmp_path: Path, signum: int) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    (tmp_path / "lesson.toml").write_text(SLOW_LESSON)
    check = subprocess.Popen(
        [str(MUXLAB), "check", "lesson.toml"],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(private_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: children_of(check.pid), "the live child to start")
        child = children_of(check.pid)[0]
        # Mid-run: the child has answered its start-up and is inside the lesson's waits.
        wait_for(lambda: holds_a_socket(child), "the lesson's first socket")
        check.send_signal(signum)
        check.wait()
        wait_for(lambda: gone(child), "the live child to die with its parent")
    finally:
        check.kill()
        check.wait()
    assert sorted(p.name for p in private_tmp.iterdir()) == []


# --- item 5: the control channel carries data only, bounded, and breaks cleanly --------------


def channel_end(kernel: LiveKernel, fd: int) -> int:
    """A writable end of the child's request pipe (fd 0) or reply pipe (fd 1), as a stray
    writer (or a bug) would hold it."""
    return os.open(f"/proc/{kernel.pid}/fd/{fd}", os.O_WRONLY)


class _Planted:
    """Unpickling this calls open(): a reply that would run code in the parent."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (open, (str(self.path), "w"))


def inject(kernel: LiveKernel, fd: int, data: bytes) -> None:
    end = channel_end(kernel, fd)
    try:
        os.write(end, data)
    finally:
        os.close(end)


def test_a_reply_that_is_not_data_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps(("ok", _Planted(marker)))
    with LiveKernel() as kernel:
        inject(kernel, 1, struct.pack("!I", len(payload)) + payload)
        with pytest.raises(ChildProcessError, match="malformed reply"):
            kernel.socketpair()
        assert not kernel.alive
    assert not marker.exists()


def test_a_reply_over_the_size_cap_is_refused_unread() -> None:
    with LiveKernel() as kernel:
        inject(kernel, 1, struct.pack("!I", 0xFFFFFFFF))
        with pytest.raises(ChildProcessError, match="more than the limit"):
            kernel.socketpair()
        assert not kernel.alive


def test_a_garbage_request_ends_the_child_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    with LiveKernel() as kernel:
        inject(kernel, 0, struct.pack("!I", 6) + b"\x80\x04junk")
        with pytest.raises(ChildProcessError, match="could not read a request"):
            kernel.socketpair()
        assert not kernel.alive
    assert "Traceback" not in capfd.readouterr().err


def test_a_truncated_request_is_a_childprocesserror_not_a_silent_wait() -> None:
    with LiveKernel() as kernel:
        inject(kernel, 0, struct.pack("!I", 100) + b'{"tuple":')
        with pytest.raises(ChildProcessError, match="truncated request"):
            kernel.socketpair()
        assert not kernel.alive


# --- item 10: descriptors 0, 1 and 2 are refused alike by both kernels -----------------------

STDIO_CALLS: dict[str, Callable[[Twin, int], object]] = {
    "close": lambda k, fd: k.close(fd),
    "abort": lambda k, fd: k.abort(fd),
    "dup": lambda k, fd: k.dup(fd),
    "send": lambda k, fd: k.send(fd, 5),
    "send-as-a-c-int": lambda k, fd: k.send(2**32 + fd, 5),
    "fill": lambda k, fd: k.fill(fd),
    "recv": lambda k, fd: k.recv(fd, 5),
    "shutdown": lambda k, fd: k.shutdown(fd, uapi.SHUT_RDWR),
    "accept": lambda k, fd: k.accept(fd),
    "tcp_connect": lambda k, fd: k.tcp_connect(fd),
    "epoll_ctl-fd": lambda k, fd: k.epoll_ctl(k.epoll_create(), uapi.EPOLL_CTL_ADD, fd, IN),
    "epoll_ctl-epfd": lambda k, fd: k.epoll_ctl(fd, uapi.EPOLL_CTL_ADD, k.open_file(), IN),
    "epoll_wait": lambda k, fd: k.epoll_wait(fd, 8, 0),
    "poll": lambda k, fd: k.poll([(k.open_file(), IN), (fd, IN)], 0),
    "select-read": lambda k, fd: k.select([fd], [], [], 0),
    "select-write": lambda k, fd: k.select([], [fd], [], 0),
    "select-except": lambda k, fd: k.select([], [], [fd], 0),
    "kevent": lambda k, fd: k.kevent(fd, [], 0, 0),
    "kevent-ident": lambda k, fd: k.kevent(3, [uapi.KEvent(fd)], 0, 0),
}


@pytest.mark.parametrize("call", list(STDIO_CALLS))
def test_both_kernels_refuse_the_standard_streams_alike(twin: Twin, call: str) -> None:
    for fd in conversions.STDIO_FDS:
        with pytest.raises(ValueError, match=f"fd {fd} is a standard stream"):
            STDIO_CALLS[call](twin, fd)  # the Twin fails on any difference between kernels
    live = twin.live
    assert isinstance(live, LiveKernel) and live.alive
    assert open_fds(live.pid) >= {0, 1, 2}
    first, _second = twin.socketpair()  # numbering goes on from what the calls above made
    assert first >= 3


def test_send_on_fd_2_never_reaches_the_parents_stderr(tmp_path: Path) -> None:
    script = (
        "from simulator.live import LiveKernel\n"
        "with LiveKernel() as live:\n"
        "    try:\n"
        "        live.send(2, 5)\n"
        "    except ValueError as exc:\n"
        "        print(exc)\n"
    )
    ours, theirs = socket.socketpair()
    with ours, theirs:
        done = subprocess.run(
            [sys.executable, "-c", script],
            stderr=theirs.fileno(),
            stdout=subprocess.PIPE,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        ours.setblocking(False)
        try:
            leaked = ours.recv(100)
        except BlockingIOError:
            leaked = b""
    assert done.returncode == 0
    assert "fd 2 is a standard stream" in done.stdout
    assert leaked == b""


# --- item 11: a run is bounded as a whole (time spent in waits, bytes held in sockets) -------


def test_waits_that_time_out_are_bounded_per_run() -> None:
    with LiveKernel(wait_budget_s=0.5) as kernel:
        a, b = kernel.socketpair()
        ep = kernel.epoll_create()
        kernel.epoll_ctl(ep, uapi.EPOLL_CTL_ADD, a, IN)
        kernel.send(b, 1)
        for _ in range(50):  # a wait that something is ready for returns at once: free
            assert kernel.epoll_wait(ep, 8, 10_000) == [(a, IN)]
        kernel.recv(a, 1)
        assert kernel.epoll_wait(ep, 8, 200) == []
        assert kernel.poll([(a, IN)], 200) == []
        with pytest.raises(uapi.LiveLimitError, match=r"wait limit.*0\.5 s.*wait_budget_s"):
            kernel.select([a], [], [], 0.2)
        assert not kernel.alive  # the run is over: everything it held is released


def test_bytes_held_in_sockets_are_bounded_per_run() -> None:
    with LiveKernel(queued_bytes_cap=1 << 20) as kernel:
        listener = kernel.tcp_listen()
        client = kernel.tcp_connect(listener)
        kernel.accept(listener)
        with pytest.raises(uapi.LiveLimitError, match=r"1,048,576 bytes.*queued_bytes_cap"):
            kernel.fill(client)
        assert not kernel.alive


def test_the_default_limits_bound_a_run() -> None:
    with LiveKernel() as kernel:
        pairs = [kernel.socketpair() for _ in range(400)]  # 400 x 233,152 bytes > 64 MiB
        with pytest.raises(Exception, match="67,108,864 bytes") as caught:
            for a, _b in pairs:
                kernel.fill(a)
        assert type(caught.value).__name__ == "LiveLimitError"


WAITING_LESSON = (
    LESSON
    + 3
    * """
[[step]]
do = "poll"
args = { fds = [["b", ["IN"]]], timeout_ms = 200 }
expect = []
"""
)


def test_a_scenario_past_a_run_limit_is_a_setup_error(tmp_path: Path) -> None:
    path = tmp_path / "lesson.toml"
    path.write_text(WAITING_LESSON)
    result = check_file(path, live_factory=lambda **kw: LiveKernel(wait_budget_s=0.5, **kw))
    assert result.error is not None
    assert "step 5 (poll)" in result.error and "wait_budget_s" in result.error
    assert "--no-live" in result.error
    assert result.line().startswith("ERROR")
    assert result.counts[Verdict.DIVERGE] == 0 and not result.bad_steps
