"""Tasks and CPUs (``kernel/sched/core.c``): the threads of the one simulated process.

A `Task` is one thread: its state, the call it is in, and while it sleeps the condition that
ends the sleep (the wait-queue entry's wake function sets it) and its deadline (a timer on the
virtual clock). Thread 0 is the caller of every protocol method; the others run the calls
`start` gives them.

The model's syscalls are plain Python functions that block in exactly one place,
`ModelKernel.sleep_until`. To let a spawned thread stop there and go on later, each call a
thread makes runs on a Python thread of its own, and exactly one of them runs at any time: the
`Scheduler` hands a baton to a task and waits until the task hands it back (it slept or
finished). So the model stays deterministic -- no two tasks ever run at once -- while the
code of every call stays the kernel's straight-line code with its ``wait_event`` loop.

When tasks run: a woken task becomes runnable at once (the wake function ran), and runs when
the call that woke it ends (`Scheduler.run_ready`, which `ModelKernel` runs after every call):
settling covers every thread. Runnable tasks run in the order they went to sleep (Linux
does not define which of several woken threads runs first, so neither may a test); one that
finds its condition false again (another thread took the data) goes back to sleep, as the
kernel's re-check loops do.

CPUs: `ncpus` simulated CPUs; a task runs on CPU ``tid % ncpus`` (spread round-robin, and
always the same one, as a task keeps its CPU while it can). Each switch of a CPU into a task
and out of it (the task sleeps or finishes) is a context switch, counted in
`context_switches` and charged to the call's cost (``thread.wake`` and ``thread.sleep`` trace
events, category ``context_switch``).

Costs: `spawn` O(1), `resume` O(1) plus the task's own work, `run_ready` O(tasks) per task run.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from simulator.kernel.clock import PRIO_TIMER, Clock, Pending
from simulator.kernel.trace import TraceKind, Tracer
from simulator.threads import FINISHED, IDLE, SLEEPING, State


class TaskCancelled(BaseException):
    """Raised inside a sleeping task's call when the model ends it (`close_all`): unwinds the
    call (its ``finally`` blocks unhook its wait entries) and ends the Python thread."""


class Task:
    """One thread (``task_struct``): what it does and, while asleep, what ends the sleep."""

    __slots__ = (
        "_baton",
        "call",
        "cancelled",
        "cpu",
        "deadline",
        "error",
        "result",
        "sleeps_on",
        "state",
        "tid",
        "timed_out",
        "timer",
        "woken",
        "woken_seq",
    )

    def __init__(self, tid: int) -> None:
        self.tid = tid
        #: "idle", "running", "sleeping" (runnable when `woken` says so) or "finished"
        self.state: str = IDLE
        self.call: str | None = None
        self.result: object = None
        self.error: BaseException | None = None
        #: While asleep: the condition the wake function sets, and where it sleeps.
        self.woken: Callable[[], bool] | None = None
        self.sleeps_on: str | None = None
        self.deadline: int | None = None
        self.timer: Pending | None = None
        self.timed_out = False
        self.woken_seq = 0  #: when it went to sleep (the order runnable tasks run in)
        self.cpu: int | None = None
        self.cancelled = False
        self._baton: threading.Semaphore | None = None

    @property
    def runnable(self) -> bool:
        """Asleep, and the condition or the deadline says it may run."""
        return self.state == SLEEPING and (
            self.timed_out or self.cancelled or (self.woken is not None and self.woken())
        )

    def reported(self) -> tuple[State, str | None]:
        """What `Kernel.thread_state` says: a running task is reported as sleeping (it only
        runs inside a call, which settles it before returning)."""
        if self.state == IDLE:
            return (IDLE, None)
        return (FINISHED if self.state == FINISHED else SLEEPING, self.call)


class Scheduler:
    """The process's tasks on `ncpus` simulated CPUs; only one task ever runs at a time."""

    def __init__(self, clock: Clock, tracer: Tracer, ncpus: int = 2) -> None:
        if ncpus < 1:
            raise ValueError(f"cpus must be at least 1, got {ncpus}")
        self.clock = clock
        self.tracer = tracer
        self.ncpus = ncpus
        self.tasks: list[Task] = [Task(0)]
        self.tasks[0].state = "running"
        self.tasks[0].cpu = 0
        #: The task whose code runs now (0 outside any spawned thread's call).
        self.current = 0
        #: Spawned tasks inside a call (running or asleep): those that hold a Python thread.
        self.active = 0
        self.context_switches = 0
        self._seq = 0
        self._back = threading.Semaphore(0)  # a task hands the baton back to thread 0

    def __deepcopy__(self, memo: dict[int, Any]) -> Scheduler:
        """A copy, for a model checkpoint: only while no spawned thread is inside a call (a
        Python thread's stack cannot be copied; the runner checkpoints only then)."""
        if self.active:
            raise TypeError("a model whose threads are inside a call cannot be copied")
        twin = Scheduler.__new__(Scheduler)
        memo[id(self)] = twin
        twin.clock = copy.deepcopy(self.clock, memo)
        twin.tracer = copy.deepcopy(self.tracer, memo)
        twin.ncpus = self.ncpus
        twin.tasks = []
        for task in self.tasks:
            same = Task(task.tid)
            same.state, same.call, same.cpu = task.state, task.call, task.cpu
            same.result = copy.deepcopy(task.result, memo)
            same.error = task.error  # an exception is never changed once raised
            twin.tasks.append(same)
        twin.current, twin.active = 0, 0
        twin.context_switches = self.context_switches
        twin._seq = self._seq
        twin._back = threading.Semaphore(0)
        return twin

    # -- thread 0's side -----------------------------------------------------------------------
    def spawn(self) -> int:
        """A new idle task; its id."""
        self.tasks.append(Task(len(self.tasks)))
        return len(self.tasks) - 1

    def start(self, tid: int, name: str, run: Callable[[], object]) -> bool:
        """Task `tid` begins call `name` (`run`); True when it finished, False when it sleeps."""
        task = self.tasks[tid]
        task.state, task.call, task.result, task.error = "running", name, None, None
        task.cancelled = task.timed_out = False
        task._baton = threading.Semaphore(0)
        self.active += 1
        thread = threading.Thread(
            target=self._body, args=(task, run), name=f"model-task-{tid}", daemon=True
        )
        thread.start()
        self._switch_to(task)
        return task.state == FINISHED

    def run_ready(self) -> None:
        """Run every runnable task, in the order they went to sleep, until none is: settling
        covers every thread (each run may wake others, which run after it)."""
        if self.current != 0:
            return  # only thread 0 dispatches; a task's own call ends by handing back
        while self.active:
            ready = [t for t in self.tasks if t.runnable]
            if not ready:
                return
            self._switch_to(min(ready, key=lambda t: (t.woken_seq, t.tid)))

    def cancel_all(self) -> None:
        """End every spawned task inside a call (`close_all`): each unwinds and is idle."""
        for task in self.tasks[1:]:
            if task.state in ("running", SLEEPING):
                task.cancelled = True
                self._switch_to(task)
            task.state, task.call, task.result, task.error = IDLE, None, None, None

    def sleeping(self) -> list[Task]:
        """The spawned tasks asleep in a call."""
        return [t for t in self.tasks[1:] if t.state == SLEEPING]

    def _switch_to(self, task: Task) -> None:
        """Hand the baton to `task` and wait until it sleeps or finishes."""
        if task.timer is not None:
            self.clock.cancel(task.timer)
            task.timer = None
        task.state = "running"
        task.cpu = task.tid % self.ncpus
        self.context_switches += 1
        self.tracer.charge(
            TraceKind.THREAD_WAKE, f"cpu{task.cpu}", 1, "thread {e.count} runs", count=task.tid
        )
        self.current = task.tid
        assert task._baton is not None
        task._baton.release()
        self._back.acquire()
        self.current = 0

    # -- a task's side ---------------------------------------------------------------------------
    def _body(self, task: Task, run: Callable[[], object]) -> None:
        assert task._baton is not None
        task._baton.acquire()
        try:
            task.result = run()
        except TaskCancelled:
            pass
        except BaseException as exc:  # the call's answer, read by join (or a bug, shown there)
            task.error = exc
        finally:  # whatever happened, thread 0 gets the baton back: it must never hang
            task.state = FINISHED
            task.woken = None
            task.sleeps_on = None
            task._baton = None
            self.active -= 1
            self._switch_out(task, "thread {e.count} finishes")
            self._back.release()

    def sleep(self, woken: Callable[[], bool], deadline: int | None, where: str) -> bool:
        """Put the current task to sleep until `woken()` or `deadline`; True if woken.

        Called on the task's own Python thread (from `ModelKernel.sleep_until`): hands the
        baton back to thread 0 and waits for it. Raises `TaskCancelled` if the model ends it.
        """
        task = self.tasks[self.current]
        task.state, task.woken, task.sleeps_on = SLEEPING, woken, where
        task.timed_out = False
        self._seq += 1
        task.woken_seq = self._seq
        if deadline is not None:

            def expire() -> None:
                task.timed_out = True
                task.timer = None

            task.timer = self.clock.schedule(
                deadline - self.clock.now_ns, PRIO_TIMER, f"task{task.tid} timeout", expire
            )
        baton = task._baton
        assert baton is not None
        self._switch_out(task, "thread {e.count} sleeps")
        self._back.release()
        baton.acquire()
        task.sleeps_on = None
        if task.cancelled:
            raise TaskCancelled
        return woken()

    def _switch_out(self, task: Task, form: str) -> None:
        """The CPU leaves `task` (it sleeps or finishes): a context switch."""
        self.context_switches += 1
        self.tracer.charge(TraceKind.THREAD_SLEEP, f"cpu{task.cpu}", 1, form, count=task.tid)
