"""The call table (`simulator.syscalls`) and everything derived from it agree.

A call forgotten in one place -- the protocol, the table, `ModelKernel`, `LiveKernel`, the
live child's dispatch, the scenario format -- fails here, not in a lesson.
"""

from __future__ import annotations

import errno
import inspect
import subprocess
import sys
from typing import Any

import pytest

from simulator import conversions, syscalls, threads, uapi
from simulator.kernel import ModelKernel
from simulator.live import LiveKernel, _child
from simulator.live._wire import _ANSWER_TYPES
from simulator.scenario import calls, format, vocabulary
from simulator.scenario.runner import _FD_TABLE_CALLS
from simulator.syscalls import CALLS, REQUIRED

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the live engine is Linux")


def protocol_calls() -> list[str]:
    """The protocol's calls, in declaration order (its lifetime methods aside)."""
    lifetime = {"close_all"}
    return [
        name
        for name, value in vars(uapi.Kernel).items()
        if inspect.isfunction(value) and not name.startswith("_") and name not in lifetime
    ]


def parameters(function: Any) -> list[tuple[str, object, bool]]:
    """``(name, default, variadic)`` of each parameter after ``self`` (`REQUIRED` when there is
    no default; `variadic` for a ``*args`` parameter)."""
    params = list(inspect.signature(function).parameters.values())[1:]
    return [
        (p.name, REQUIRED if p.default is p.empty else p.default, p.kind is p.VAR_POSITIONAL)
        for p in params
    ]


def test_the_table_has_every_protocol_call_in_order() -> None:
    assert protocol_calls() == list(CALLS)


@pytest.mark.parametrize("name", list(CALLS))
def test_protocol_model_live_and_child_take_the_tables_arguments(name: str) -> None:
    want = [(arg.name, arg.default, arg.variadic) for arg in CALLS[name].args]
    for implementation in (uapi.Kernel, ModelKernel, LiveKernel, _child._Engine):
        method = getattr(implementation, name)
        assert parameters(method) == want, f"{implementation.__name__}.{name}"


def test_live_kernel_methods_are_its_own_and_documented() -> None:
    for name in CALLS:
        method = vars(LiveKernel).get(name)
        assert method is not None, f"LiveKernel declares no {name}"
        assert method.__doc__, f"LiveKernel.{name} has no docstring"


def test_the_child_answers_the_table_and_its_set_up_only() -> None:
    # ... and the lab's one request (`simulator.bench`: its own world, timed in the child).
    assert frozenset(CALLS) | {"set_limits", "set_run_limits", "lab"} == _child.CALLS


def test_the_scenario_format_is_derived_from_the_table() -> None:
    # Every call but the thread calls, which a step names with its `thread` instead.
    assert list(format.CALLS) == [name for name, call in CALLS.items() if call.scenario]
    assert {n for n, c in CALLS.items() if not c.scenario} == threads.THREAD_CALLS
    for name, spec in format.CALLS.items():
        call = CALLS[name]
        assert spec.result is call.result
        assert list(spec.args.model_fields) == [arg.name for arg in call.args]
        for arg in call.args:
            field = spec.args.model_fields[arg.name]
            default = arg.step_default
            if default is REQUIRED:
                assert field.is_required(), f"{name}.{arg.name}"
            else:
                assert field.default == ([] if default == () else default), f"{name}.{arg.name}"
    mechanism = format.Meta.model_json_schema()["properties"]["mechanism"]
    assert mechanism["anyOf"][0]["enum"] == list(syscalls.MECHANISMS)


def test_one_list_of_answer_exceptions() -> None:
    names = tuple(cls.__name__ for cls in syscalls.ANSWER_EXCEPTIONS)
    assert names == vocabulary.EXCEPTION_NAMES
    assert set(names) <= set(_ANSWER_TYPES)
    assert set(_ANSWER_TYPES) - set(names) == {"LiveLimitError", "LiveSettleError"}
    for name in names:
        assert vocabulary.error_name(name) == name
    described = format._EXPECT_SCHEMA["description"]
    assert all(name in described for name in names)


def test_the_runner_and_the_tui_derive_their_call_lists() -> None:
    assert {n for n, c in CALLS.items() if c.changes_fd_table} == _FD_TABLE_CALLS
    waits = {"epoll_wait", "poll", "select", "kevent", "io_uring_wait"}
    waits |= {"GetQueuedCompletionStatus", "GetQueuedCompletionStatusEx"}  # IOCP, model only
    assert waits == syscalls.WAITING_CALLS
    assert {n: c.mechanism for n, c in CALLS.items() if c.mechanism} == {
        "epoll_create": "epoll",
        "epoll_ctl": "epoll",
        "epoll_wait": "epoll",
        "poll": "poll",
        "select": "select",
        "kqueue": "kqueue",
        "kevent": "kqueue",
        "io_uring_setup": "io_uring",
        "io_uring_submit": "io_uring",
        "io_uring_wait": "io_uring",
        "CreateIoCompletionPort": "iocp",
        "WSARecv": "iocp",
        "WSASend": "iocp",
        "GetQueuedCompletionStatus": "iocp",
        "GetQueuedCompletionStatusEx": "iocp",
        "PostQueuedCompletionStatus": "iocp",
    }


def test_fd_references_follow_the_argument_kinds() -> None:
    """Every argument that holds descriptors is resolved by name and refused at 0, 1 and 2."""
    names = calls.Bindings()
    names.bind("a", 7)
    for name, call in CALLS.items():
        held = [arg for arg in call.args if arg.kind.names_fds]
        for arg in held:
            values = {
                syscalls.ArgKind.FD: 1,
                syscalls.ArgKind.SOCKET: 2**32 + 2,
                syscalls.ArgKind.FD_LIST: [5, 0],
                syscalls.ArgKind.POLL_LIST: [(5, 1), (1, 1)],
                syscalls.ArgKind.KEVENT_CHANGES: [uapi.KEvent(2)],
                syscalls.ArgKind.SQE_LIST: [uapi.Sqe("NOP"), uapi.Sqe("CLOSE", fd=1)],
                syscalls.ArgKind.HANDLE: 2,
            }
            with pytest.raises(ValueError, match="standard stream"):
                conversions.refuse_stdio_arguments(name, {arg.name: values[arg.kind]})


def test_the_bottom_layer_loads_neither_the_model_nor_the_live_engine() -> None:
    code = (
        "import sys, simulator.uapi, simulator.syscalls, simulator.conversions\n"
        "print([m for m in sys.modules if m.startswith(('simulator.kernel', 'simulator.live',"
        " 'simulator.scenario'))])"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# --- item 6: the live wait bound is a parameter; a settle that fails is an error --------------


@linux_only
def test_the_live_wait_bound_is_a_constructor_parameter() -> None:
    with LiveKernel(wait_bound_s=0.05) as kernel:
        a, _b = kernel.socketpair()
        ep = kernel.epoll_create()
        kernel.epoll_ctl(ep, uapi.EPOLL_CTL_ADD, a, uapi.EPOLLIN)
        with pytest.raises(uapi.WaitForeverError, match=r"within 0\.05 s"):
            kernel.epoll_wait(ep, 1, -1)
        with pytest.raises(uapi.WaitForeverError, match=r"within 0\.05 s"):
            kernel.poll([(a, uapi.EPOLLIN)], None)  # type: ignore[arg-type]
        with pytest.raises(uapi.WaitForeverError, match=r"within 0\.05 s"):
            kernel.select([a], [], [], None)
        assert kernel.select([a], [a], [], None) == ([], [a], [])
    with pytest.raises(ValueError, match="wait_bound_s"):
        LiveKernel(wait_bound_s=0)


@linux_only
def test_a_settle_that_does_not_settle_is_an_error() -> None:
    """The child's settle loop, on real sockets in this process: a condition that never holds
    used to end the loop silently at its bound ("as things are")."""
    engine = _child._Engine()
    listener = engine.tcp_listen()
    try:
        engine._settle()  # nothing in flight: returns
        with pytest.raises(uapi.LiveSettleError, match="did not settle"):
            engine._settle(lambda: False)
    finally:
        engine.close(listener)


@linux_only
def test_a_live_settle_error_travels_and_is_no_answer() -> None:
    """LiveSettleError crosses the channel by name and is no answer: the runner reports the
    run as broken (a ScenarioRunError, as for any exception that is not an answer), never as a
    divergence."""
    from simulator.live import _wire

    reply = _wire.encode_error(uapi.LiveSettleError("did not settle"))
    error = _wire.decode_error(*reply[1:])  # type: ignore[arg-type]
    assert type(error) is uapi.LiveSettleError
    assert not isinstance(error, syscalls.ANSWER_EXCEPTIONS)


# --- item 8: one helper installs a new fd in the model ------------------------------------


@pytest.mark.parametrize("limit", ["EMFILE", "ENFILE"])
def test_every_call_that_allocates_fds_leaves_the_table_as_it_was_when_refused(
    limit: str,
) -> None:
    """Each call the table marks `allocates_fds`, refused at RLIMIT_NOFILE (EMFILE) or at
    file-max (ENFILE) on the model, gives its reserved numbers back."""
    for name, call in CALLS.items():
        if not call.allocates_fds:
            continue
        model = ModelKernel()
        listener = model.tcp_listen()
        model.tcp_connect(listener)  # one connection queued, for accept
        a, _b = model.socketpair()
        args = {"listen_fd": listener, "fd": a, "entries": 4}
        before = set(model.fds())
        if limit == "EMFILE":
            model.setrlimit_nofile(max(before) + 1)
        else:
            model.fs.file_max = model.fs.nr_files
        kwargs = {arg.name: args[arg.name] for arg in call.args if arg.name in args}
        if name == "dup" and limit == "ENFILE":
            continue  # dup shares the open file: no new file to account, so no ENFILE
        if name == "io_uring_submit":
            continue  # an ACCEPT's EMFILE is its completion's res (test_diff_io_uring.py)
        with pytest.raises(OSError) as caught:
            getattr(model, name)(**kwargs)
        assert caught.value.errno == (errno.EMFILE if limit == "EMFILE" else errno.ENFILE), name
        assert set(model.fds()) == before, name
        model.fs.file_max = 2**63 - 1
        model.setrlimit_nofile(1024)
        assert getattr(model, name)(**kwargs) is not None, name
