"""The rules of the process's threads, shared by both kernels (the design contract's thread calls).

Thread 0 makes every call of the `simulator.uapi.Kernel` protocol; `spawn_thread` adds idle
threads numbered 1, 2, ... (at most `MAX_THREADS`); `start` makes one begin a protocol call,
which either finishes at once or leaves the thread asleep in the kernel; `thread_state` and
`join` read it. Both kernels check their arguments here, in the same order and with the same
messages, so bad input is answered identically (a `tests.twin.Twin` compares messages).

Each check is O(1) except `check_start`, which binds the call's arguments to the protocol's
signature (O(arguments)) and refuses fds 0, 1 and 2 in them as the call itself would.

This module sits at the bottom beside `simulator.uapi`: it imports neither kernel.
"""

from __future__ import annotations

import inspect
from typing import Literal

from simulator import conversions, syscalls, uapi

#: The most threads `spawn_thread` makes (thread 0, the caller, not counted).
MAX_THREADS = 64

#: What a thread is doing, as `Kernel.thread_state` reports it.
State = Literal["idle", "sleeping", "finished"]
IDLE: State = "idle"
SLEEPING: State = "sleeping"
FINISHED: State = "finished"

#: The protocol calls that manage threads: no thread can `start` one of them.
THREAD_CALLS = frozenset({"spawn_thread", "start", "thread_state", "join"})


def thread_calls() -> frozenset[str]:
    """The calls a spawned thread may make: every call of the table but the thread calls."""
    return frozenset(syscalls.CALLS) - THREAD_CALLS


def check_spawn(count: int) -> int:
    """The id of the next thread when `count` exist; `uapi.ThreadStateError` past
    `MAX_THREADS`."""
    if count >= MAX_THREADS:
        raise uapi.ThreadStateError(f"at most {MAX_THREADS} threads can be spawned")
    return count + 1


def check_tid(tid: object, count: int) -> int:
    """`tid` as a thread spawned so far (`count` of them): TypeError, or ValueError."""
    if type(tid) is not int:
        raise TypeError(f"a thread id is an int, not {type(tid).__name__}")
    if tid == 0:
        raise ValueError("thread 0 is the caller of every other call; name a spawned thread")
    if not 1 <= tid <= count:
        made = f"threads 1 to {count} exist" if count else "no thread has been spawned"
        raise ValueError(f"no thread {tid}: {made}")
    return tid


def check_start(
    tid: int, state: tuple[State, str | None], call: object, args: tuple[object, ...]
) -> dict[str, object]:
    """Check that thread `tid` (in `state`) may begin `call(*args)`; the bound arguments.

    `uapi.ThreadStateError` (a RuntimeError) if the thread is not idle, TypeError or
    ValueError for a call that is not a thread's protocol call, TypeError when `args` do not
    fit its signature, and the
    ValueError every call raises for fds 0, 1 and 2 (`conversions.refuse_stdio_arguments`).
    """
    if state[0] != IDLE:
        doing = f"sleeping in {state[1]}" if state[0] == SLEEPING else f"finished {state[1]}"
        raise uapi.ThreadStateError(f"thread {tid} is not idle: it is {doing} (join it first)")
    if not isinstance(call, str):
        raise TypeError(f"a call is named by a str, not {type(call).__name__}")
    if call not in thread_calls():
        raise ValueError(f"{call!r} is not a protocol call a thread can make")
    signature = inspect.signature(getattr(uapi.Kernel, call))
    try:
        bound = signature.bind(None, *args)
    except TypeError as exc:
        raise TypeError(f"{call}(): {exc}") from None
    bound.apply_defaults()
    values = dict(bound.arguments)
    del values["self"]
    conversions.refuse_stdio_arguments(call, values)
    return values


def check_join(tid: int, state: tuple[State, str | None]) -> None:
    """`uapi.ThreadStateError` (a RuntimeError) unless thread `tid` has finished a call."""
    if state[0] == IDLE:
        raise uapi.ThreadStateError(f"thread {tid} is idle: it has no call to join")
    if state[0] == SLEEPING:
        raise uapi.ThreadStateError(f"thread {tid} is still sleeping in {state[1]}")
