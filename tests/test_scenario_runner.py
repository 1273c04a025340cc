"""The lockstep runner: verdicts, rewind, recordings, and failures contained to one scenario.

The bookkeeping tests use `FakeKernel`, a few-line kernel whose answers we control (a "live" one
that miscounts, one without kqueue, one that crashes), because the point there is the runner's
accounting, not kernel behaviour. Everything else runs the real `ModelKernel` and `LiveKernel`.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.trace import Cost
from simulator.scenario.check import check_files
from simulator.scenario.format import Scenario
from simulator.scenario.loader import parse_scenario
from simulator.scenario.recording import Recording, RecordingError
from simulator.scenario.runner import Runner, ScenarioRunError, Verdict, default_live_factory
from simulator.uapi import Kernel


class FakeKernel:
    """Just enough of a kernel for the runner's bookkeeping: socketpairs that count bytes.

    `miscount` makes send report one byte less (a divergence); `has_kqueue=False` raises
    ENOSYS like Linux; `crash_on` raises a non-answer exception from that method (a dead child).
    """

    def __init__(
        self, *, miscount: bool = False, has_kqueue: bool = True, crash_on: str = "", **_: Any
    ) -> None:
        self.miscount = miscount
        self.has_kqueue = has_kqueue
        self.crash_on = crash_on
        self.open: dict[int, str] = {}
        self.queued: dict[int, int] = {}
        self.peer: dict[int, int] = {}
        self.calls: list[str] = []
        self.trace: list[Any] = []
        self.last_cost = Cost()
        self.closed = False

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.last_cost = Cost(copy_in=len(self.calls))
        if name == self.crash_on:
            raise EOFError("the live child died")

    def _alloc(self, kind: str) -> int:
        fd = next(n for n in range(3, 1 << 20) if n not in self.open)
        self.open[fd] = kind
        return fd

    def _check(self, fd: int) -> None:
        if fd not in self.open:
            raise OSError(errno.EBADF, "Bad file descriptor")

    def socketpair(self) -> tuple[int, int]:
        self._call("socketpair")
        a, b = self._alloc("unix"), self._alloc("unix")
        self.peer.update({a: b, b: a})
        self.queued.update({a: 0, b: 0})
        return a, b

    def send(self, fd: int, nbytes: int) -> int:
        self._call("send")
        self._check(fd)
        self.queued[self.peer[fd]] += nbytes
        return nbytes - 1 if self.miscount else nbytes

    def recv(self, fd: int, nbytes: int) -> int:
        self._call("recv")
        self._check(fd)
        got = min(nbytes, self.queued[fd])
        self.queued[fd] -= got
        return got

    def close(self, fd: int) -> None:
        self._call("close")
        self._check(fd)
        del self.open[fd]

    def dup(self, fd: int) -> int:
        self._call("dup")
        self._check(fd)
        return self._alloc(self.open[fd])

    def kqueue(self) -> int:
        self._call("kqueue")
        if not self.has_kqueue:
            raise OSError(errno.ENOSYS, "Function not implemented")
        return self._alloc("kqueue")

    def setrlimit_nofile(self, soft: int) -> None:
        self._call("setrlimit_nofile")

    def close_all(self) -> None:
        self.closed = True


def fake_kernel(**options: Any) -> Kernel:
    """A `FakeKernel` as the runner's factories are typed. It has only the calls these
    scenarios make, which is all the runner ever asks of a kernel, hence the cast."""
    return cast(Kernel, FakeKernel(**options))


SCENARIO = """
[scenario]
title = "bookkeeping"

[[step]]
do = "socketpair"
as = ["a", "b"]
say = "Two ends."

[[step]]
do = "send"
args = { fd = "b", nbytes = 10 }
expect = 10

[[step]]
do = "recv"
args = { fd = "a", nbytes = 4 }
expect = 5

[[step]]
do = "dup"
args = { fd = "a" }
as = "d"
model_only = true

[[step]]
do = "kqueue"
as = "kq"

[[step]]
do = "close"
args = { fd = "kq" }

[[step]]
do = "close"
args = { fd = "a" }
expect = "ok"

[[step]]
do = "close"
args = { fd = "a" }
expect = { error = "EBADF" }
ask = "Closing twice?"
choices = ["ok", { error = "EBADF" }]
"""


def scenario(text: str = SCENARIO) -> Scenario:
    return parse_scenario(text, "test.toml")


class Lives:
    """A live-kernel factory that remembers the kernels it made."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.made: list[FakeKernel] = []

    def __call__(self, **limits: int) -> Kernel:
        self.limits = limits
        kernel = FakeKernel(**self.options)
        self.made.append(kernel)
        return cast(Kernel, kernel)


def as_json(records: Any) -> list[str]:
    return [json.dumps(r.to_json(), sort_keys=True) for r in records]


# --- verdicts --------------------------------------------------------------------------------
def test_verdicts() -> None:
    lives = Lives(miscount=True, has_kqueue=False)
    with Runner(scenario(), fake_kernel, lives) as runner:
        records = list(runner)
    verdicts = [r.verdict for r in records]
    assert verdicts == [
        Verdict.AGREE,  # socketpair
        Verdict.DIVERGE,  # send: the "live" kernel miscounts
        Verdict.EXPECT_FAILED,  # recv: both say 4, the scenario says 5
        Verdict.MODEL_ONLY,  # model_only = true
        Verdict.MODEL_ONLY,  # kqueue: ENOSYS on the live side
        Verdict.MODEL_ONLY,  # close(kq): kq exists only in the model
        Verdict.AGREE,
        Verdict.AGREE,
    ]
    send = records[1]
    assert send.model.result == 10 and send.live is not None and send.live.result == 9
    assert send.diff == "model: 10\nlive:  9"
    assert send.expect_failures == ("live: expected 10, got 9",)
    recv = records[2]
    assert recv.expect_failures == ("model: expected 5, got 4", "live: expected 5, got 4")
    assert records[3].live is None and records[3].note == "a model_only step"
    assert records[4].live is not None and records[4].live.error == "ENOSYS"
    assert records[5].note == "'kq' exists only in the model"
    assert records[7].answer == 1
    assert records[0].model.result == ["a", "b"] and records[0].model.raw == [3, 4]
    assert records[0].cost == Cost(copy_in=1) and records[0].say == "Two ends."
    assert lives.made[0].closed


def test_names_resolve_per_kernel_and_unnamed_fds_show_as_fd_n() -> None:
    text = """
[scenario]
title = "names"
[[step]]
do = "socketpair"
as = ["a", "b"]
[[step]]
do = "dup"
args = { fd = 3 }
expect = 5
[[step]]
do = "dup"
args = { fd = "a" }
expect = 6
"""
    with Runner(scenario(text), fake_kernel, Lives()) as runner:
        records = list(runner)
    assert [r.verdict for r in records] == [Verdict.AGREE] * 3
    assert records[1].model.result == "fd5"


def test_no_choice_matching_is_a_failed_expectation() -> None:
    text = SCENARIO.replace('choices = ["ok", { error = "EBADF" }]', 'choices = ["ok", "ok"]')
    with Runner(scenario(text), fake_kernel, Lives()) as runner:
        last = list(runner)[-1]
    assert last.verdict is Verdict.EXPECT_FAILED
    assert last.answer is None
    assert last.expect_failures[-1].startswith("no choice matches the real result EBADF")


def test_without_a_live_kernel_every_step_is_model_only() -> None:
    with Runner(scenario(), fake_kernel) as runner:
        records = list(runner)
    assert {r.verdict for r in records} == {Verdict.MODEL_ONLY, Verdict.EXPECT_FAILED}
    assert records[1].note == "no live kernel"


# --- time travel -----------------------------------------------------------------------------
def test_rewind_replays_the_recording_and_never_touches_the_live_kernel() -> None:
    lives = Lives(miscount=True, has_kqueue=False)
    with Runner(scenario(), fake_kernel, lives, checkpoint_every=3) as runner:
        fresh = as_json(runner)
        live_calls = list(lives.made[0].calls)
        for target in (0, 2, 5, 1, 8, 4, 7):
            runner.seek(target)
            assert runner.position == target
        runner.seek(0)
        rerun = as_json(runner)
        assert lives.made[0].calls == live_calls
        assert len(lives.made) == 1
    assert rerun == fresh


def test_seek_returns_the_model_state_after_n_steps() -> None:
    with Runner(scenario(), fake_kernel, Lives(), checkpoint_every=2) as runner:
        list(runner)
        model = runner.seek(3)
        assert isinstance(model, FakeKernel)
        assert model.queued == {3: 6, 4: 0} and sorted(model.open) == [3, 4]
        assert runner.bindings.fds == {"a": 3, "b": 4}
        with pytest.raises(IndexError):
            runner.seek(9)


def test_checkpoints_stay_bounded() -> None:
    steps = "\n".join('[[step]]\ndo = "send"\nargs = { fd = "b", nbytes = 1 }' for _ in range(300))
    text = f'[scenario]\ntitle = "long"\n[[step]]\ndo = "socketpair"\nas = ["a", "b"]\n{steps}'
    with Runner(
        scenario(text), fake_kernel, Lives(), checkpoint_every=2, max_checkpoints=8
    ) as runner:
        fresh = as_json(runner)
        assert len(runner.checkpoints) <= 8
        runner.seek(150)
        assert as_json(runner.records[:150]) == fresh[:150]
        assert as_json(runner) == fresh[150:]


# --- recordings ------------------------------------------------------------------------------
def test_recording_round_trip(tmp_path: Path) -> None:
    lives = Lives(miscount=True, has_kqueue=False)
    with Runner(scenario(), fake_kernel, lives) as runner:
        fresh = as_json(runner)
        runner.recording().save(tmp_path / "run.json")
    recording = Recording.load(tmp_path / "run.json")
    assert recording.live[4] == {
        "error": "ENOSYS",
        "message": "[Errno 38] Function not implemented",
    }
    with Runner(scenario(), fake_kernel, recording=recording) as replayed:
        assert as_json(replayed) == fresh


def test_recording_from_another_platform_replays() -> None:
    """A macOS recording (kqueue works, epoll would be ENOSYS) replays here, by errno name."""
    with Runner(scenario(), fake_kernel, Lives(has_kqueue=True)) as runner:
        list(runner)
        recording = runner.recording()
    mac = Recording(recording.scenario_hash, recording.title, recording.live, {"system": "Darwin"})
    with Runner(scenario(), fake_kernel, recording=Recording.from_json(mac.to_json())) as replay:
        records = list(replay)
    assert records[4].verdict is Verdict.AGREE  # kqueue ran "live" on the Mac


def test_recording_of_another_scenario_is_refused(tmp_path: Path) -> None:
    with Runner(scenario(), fake_kernel, Lives()) as runner:
        list(runner)
        recording = runner.recording()
    changed = scenario(SCENARIO.replace("nbytes = 10", "nbytes = 11"))
    with pytest.raises(RecordingError, match="different version"):
        Runner(changed, fake_kernel, recording=recording)
    narration_only = scenario(SCENARIO.replace("Two ends.", "Both ends."))
    Runner(narration_only, fake_kernel, recording=recording).close()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(RecordingError, match="not a muxlab recording"):
        Recording.load(bad)


# --- failures stay inside their scenario -----------------------------------------------------
def test_a_dying_live_kernel_fails_only_its_scenario(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    first.write_text(SCENARIO)
    second = tmp_path / "b.toml"
    second.write_text(SCENARIO.replace("nbytes = 4", "nbytes = 5"))
    broken = tmp_path / "c.toml"
    broken.write_text("[scenario]\n")
    crashes = iter([True, False])

    def live() -> Kernel:
        return fake_kernel(crash_on="recv" if next(crashes) else "", has_kqueue=False)

    out = io.StringIO()
    summary = check_files(
        [first, second, broken], out=out, model_factory=fake_kernel, live_factory=live
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == f"ERROR {first}: 2 steps: 2 agree"
    assert "the live kernel failed at step 3 (recv): EOFError: the live child died" in lines[1]
    assert lines[2] == f"ok    {second}: 8 steps: 5 agree, 3 model only"
    assert lines[3] == f"ERROR {broken}"  # not loaded: no "0 steps"
    assert lines[-2:] == [
        "3 scenarios, 10 steps: 7 agree, 0 diverge, 0 expectation failed, 3 model only",
        "2 scenarios could not be checked",
    ]
    assert summary.failed


def test_model_descriptor_limits_reach_the_live_kernel() -> None:
    text = SCENARIO.replace(
        'title = "bookkeeping"', 'title = "limits"\n[model]\nnofile = 50\nfile_max = 99'
    )
    lives = Lives()
    with Runner(scenario(text), fake_kernel, lives) as runner:
        runner.advance()
    assert lives.limits == {"nofile": 50}


def test_a_model_that_will_not_start_is_a_run_error() -> None:
    def broken(**_: Any) -> Kernel:
        raise ValueError("nofile (5) exceeds nofile_hard (4)")

    with pytest.raises(ScenarioRunError, match="the model would not start: ValueError"):
        Runner(scenario(), broken)


# --- the real kernels ------------------------------------------------------------------------
REAL = """
[scenario]
title = "real"
[[step]]
do = "socketpair"
as = ["a", "b"]
[[step]]
do = "epoll_create"
as = "ep"
[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
[[step]]
do = "send"
args = { fd = "b", nbytes = 5 }
[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 4 }
expect = [["a", ["IN"]]]
[[step]]
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a", events = ["IN"] }
expect = { error = "EEXIST" }
[[step]]
do = "recv"
args = { fd = "a", nbytes = 5 }
[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = 4 }
expect = []
[[step]]
do = "kqueue"
as = "kq"
"""


@pytest.fixture
def real_runner() -> Iterator[Runner]:
    with Runner(scenario(REAL), ModelKernel, default_live_factory, checkpoint_every=2) as runner:
        yield runner


def test_real_kernels_agree_step_by_step(real_runner: Runner) -> None:
    records = list(real_runner)
    assert [r.verdict for r in records[:-1]] == [Verdict.AGREE] * 8, [r.diff for r in records]
    assert records[-1].verdict is Verdict.MODEL_ONLY  # kqueue: ENOSYS on Linux
    assert records[4].trace and records[4].cost is not None and records[4].cost.total > 0


def test_real_rewind_equals_a_fresh_run(real_runner: Runner) -> None:
    fresh = as_json(real_runner)
    real_runner.seek(3)
    assert as_json(real_runner) == fresh[3:]
    real_runner.seek(0)
    with Runner(scenario(REAL), ModelKernel, recording=real_runner.recording()) as replay:
        assert as_json(replay) == fresh


def test_a_killed_live_child_is_a_run_error_not_an_answer() -> None:
    lives: list[Any] = []

    def live() -> Any:
        kernel = default_live_factory()
        lives.append(kernel)
        return kernel

    with Runner(scenario(REAL), ModelKernel, live) as runner:
        runner.advance()
        lives[0].close_all()  # the child is gone: every call now raises ChildProcessError
        with pytest.raises(ScenarioRunError, match="ChildProcessError"):
            runner.advance()


def test_after_a_run_error_the_runner_is_still_at_the_failed_step() -> None:
    with Runner(scenario(), fake_kernel, Lives(crash_on="recv")) as runner:
        runner.seek(2)
        model = runner.model
        assert isinstance(model, FakeKernel)
        before = list(model.calls)
        with pytest.raises(ScenarioRunError):
            runner.advance()
        assert runner.position == 2 and model.calls == before


# --- limits the machine will not grant ------------------------------------------------------
MACHINE_HARD = 4096  #: the hard RLIMIT_NOFILE of the machine these tests stand up


def _machine_with_a_hard_nofile_limit() -> None:
    """In the `muxlab` subprocess, before exec: a hard RLIMIT_NOFILE of MACHINE_HARD that it
    cannot raise -- also as root, whose CAP_SYS_RESOURCE leaves the bounding set (so exec does
    not grant it back). Not root: dropping fails (EPERM) and is not needed."""
    soft = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], MACHINE_HARD)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, MACHINE_HARD))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_sys_resource = 24, 24
    libc.prctl(pr_capbset_drop, cap_sys_resource, 0, 0, 0)


def check_on_that_machine(path: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tui", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_machine_with_a_hard_nofile_limit,
        cwd=Path(__file__).resolve().parents[1],
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("key", ["nofile", "nofile_hard"])
def test_a_model_limit_the_machine_refuses_is_a_setup_error(tmp_path: Path, key: str) -> None:
    path = tmp_path / "big.toml"
    path.write_text(REAL.replace('title = "real"', f'title = "big"\n[model]\n{key} = 8192'))
    status, out = check_on_that_machine(path)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == f"ERROR {path}", out
    assert (
        f"[model] {key} = 8192 is more than this machine grants: its hard RLIMIT_NOFILE "
        f"(`ulimit -Hn`) is {MACHINE_HARD}" in out
    )
    assert "diverge" not in lines[0] and "Traceback" not in out


def test_a_setrlimit_step_the_machine_refuses_is_a_setup_error(tmp_path: Path) -> None:
    """The model's hard limit is 1,048,576 by default; this machine's is lower. Asking for a soft
    limit between the two is not a model divergence (model: ok, live: ValueError)."""
    path = tmp_path / "raise.toml"
    path.write_text(REAL + '[[step]]\ndo = "setrlimit_nofile"\nargs = { soft = 8192 }\n')
    status, out = check_on_that_machine(path)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == f"ERROR {path}: 9 steps: 8 agree, 1 model only", out
    assert (
        f"step 10 (setrlimit_nofile): soft = 8192 is more than this machine grants: its hard "
        f"RLIMIT_NOFILE (`ulimit -Hn`) is {MACHINE_HARD}" in out
    )
    assert "Traceback" not in out


def test_a_setrlimit_step_both_kernels_refuse_still_agrees(tmp_path: Path) -> None:
    path = tmp_path / "raise.toml"
    text = REAL.replace('title = "real"', 'title = "r"\n[model]\nnofile_hard = 4000')
    path.write_text(text + '[[step]]\ndo = "setrlimit_nofile"\nargs = { soft = 8192 }\n')
    status, out = check_on_that_machine(path)
    assert (status, out.splitlines()[0]) == (0, f"ok    {path}: 10 steps: 9 agree, 1 model only")
