"""CPython's argument conversions, in one place for both kernels.

A call's arguments reach the real kernel through CPython, which converts and checks them first
(``Modules/selectmodule.c``, ``Modules/socketmodule.c``, ``Python/pytime.c``): a descriptor
through the ``fildes`` converter or ``socket(fileno=...)``, counts as C ints, and each wait's
timeout by its own rule. `simulator.kernel.ModelKernel` reproduces those checks with the
functions here, and the live child (`simulator.live._child`) uses them where it must decide
something before CPython does (an infinite wait, which it bounds). Also here: the refusal of
the standard streams (fds 0, 1 and 2), which both kernels apply first, derived from the call
table (`simulator.syscalls`), and the bounded infinite wait of the live kernel.

Like `simulator.uapi` and `simulator.syscalls`, this module loads neither the model nor the live
engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from simulator.syscalls import CALLS, ArgKind, Timeout
from simulator.uapi import (
    IORING_OPS,
    IOSQE_IO_HARDLINK,
    IOSQE_IO_LINK,
    KQ_FILTER_READ,
    KQ_FILTER_WRITE,
    KEvent,
    Sqe,
    WaitForeverError,
)

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
#: CPython's ``_PyTime_t`` counts nanoseconds in a signed 64-bit integer.
PYTIME_LIMIT = 2**63
#: CPython's select() rejects a timeout whose nanoseconds do not fit a signed 64-bit integer.
SELECT_TIMEOUT_MAX_S = (2**63 - 1) // 10**9


# --- integers and descriptors -------------------------------------------------------------


def index(value: object) -> int:
    """``operator.index`` with CPython's message, for plain numbers."""
    if isinstance(value, int):
        return value
    raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")


def c_int(value: object) -> int:
    """CPython's ``int`` argument converter (``_PyLong_AsInt``): __index__, then the C int
    range (OverflowError)."""
    number = index(value)
    if not INT_MIN <= number <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return number


def fildes(value: object) -> int:
    """CPython's ``fildes`` converter (``PyObject_AsFileDescriptor``) for a plain number: an
    int (TypeError), a C int (OverflowError), not negative (ValueError)."""
    if not isinstance(value, int):
        raise TypeError("argument must be an int, or have a fileno() method.")
    if not INT_MIN <= value <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    if value < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({value})")
    return value


def socket_fileno(value: int) -> int:
    """The descriptor ``socket.socket(fileno=value)`` ends up with (CPython ``sock_initobj``):
    ``PyLong_AsLong`` truncated to the C int ``SOCKET_T``; negative is a ValueError. (So
    2**32 + 4 is fd 4.)"""
    if not -(2**63) <= value < 2**63:
        raise OverflowError("Python int too large to convert to C long")
    fd = (value - INT_MIN) % 2**32 + INT_MIN
    if fd < 0:
        raise ValueError("negative file descriptor")
    return fd


# --- the standard streams -----------------------------------------------------------------

#: Descriptors no protocol call may name: the process's standard streams. In the live kernel's
#: child they are its control channel (0 and 1) and the terminal's stderr (2).
STDIO_FDS = range(3)


def refuse_stdio(*fds: object, socket: bool = False) -> None:
    """``ValueError`` if one of `fds` is 0, 1 or 2: no call may touch the standard streams.

    Both kernels check this first, before any argument check of their own, so both refuse
    alike (on the live side closing fd 0 or 1 would cut the child's control channel, and
    sending on fd 2 would write into the terminal). `socket`: the numbers are converted as
    ``socket.socket(fileno=...)`` converts them (a C long cut to a C int, so ``2**32 + 1`` is
    fd 1). Values that are not integers are left to the calls' own checks.
    """
    for value in fds:
        if not isinstance(value, int):
            continue
        fd = value
        if socket and -(2**63) <= value < 2**63:
            fd = (value + 2**31) % 2**32 - 2**31
        if fd in STDIO_FDS:
            raise ValueError(
                f"fd {fd} is a standard stream (0, 1 and 2 are reserved: in the live kernel "
                "they are its control channel and stderr); use the descriptors calls return"
            )


_COLLECTIONS = (list, tuple, set, frozenset, range)


def fds_in_lists(*lists: object) -> list[object]:
    """The members of select's fd lists (for `refuse_stdio`); iterators are not consumed."""
    return [fd for seq in lists if isinstance(seq, _COLLECTIONS) for fd in seq]


def fds_in_poll_list(fds: object) -> list[object]:
    """The fd of each ``(fd, events)`` entry of a poll list (for `refuse_stdio`)."""
    if not isinstance(fds, _COLLECTIONS):
        return []
    return [e[0] for e in fds if isinstance(e, (list, tuple)) and len(e) == 2]


def fds_in_changes(changes: object) -> list[object]:
    """The idents of a kevent changelist that name descriptors (READ and WRITE filters)."""
    if not isinstance(changes, _COLLECTIONS):
        return []
    fd_filters = (KQ_FILTER_READ, KQ_FILTER_WRITE)
    return [c.ident for c in changes if isinstance(c, KEvent) and c.filter in fd_filters]


def refuse_stdio_arguments(call: str, arguments: Mapping[str, object]) -> None:
    """`refuse_stdio` over every descriptor in a call's `arguments`, by the kinds the call
    table gives them (`socket` conversion for `ArgKind.SOCKET`)."""
    plain: list[object] = []
    sockets: list[object] = []
    for arg in CALLS[call].stdio_checked:
        value = arguments.get(arg.name)
        if arg.kind is ArgKind.SOCKET:
            sockets.append(value)
        elif arg.kind is ArgKind.FD or arg.kind is ArgKind.HANDLE:
            plain.append(value)
        elif arg.kind is ArgKind.FD_LIST:
            plain += fds_in_lists(value)
        elif arg.kind is ArgKind.POLL_LIST:
            plain += fds_in_poll_list(value)
        elif arg.kind is ArgKind.KEVENT_CHANGES:
            plain += fds_in_changes(value)
        elif arg.kind is ArgKind.SQE_LIST:
            plain += fds_in_sqes(value)
    refuse_stdio(*sockets, socket=True)
    refuse_stdio(*plain)


# --- io_uring's arguments (both kernels check them alike, before the kernel sees them) ------

#: Ops whose `Sqe.fd` is a descriptor.
SQE_FD_OPS = frozenset({"RECV", "SEND", "ACCEPT", "POLL_ADD", "CLOSE"})
#: The ``IOSQE_*`` flags the model implements; the others are refused (ValueError) until it does.
SQE_FLAGS_MODELLED = IOSQE_IO_LINK | IOSQE_IO_HARDLINK
#: The largest RECV/SEND length: the live kernel allocates the buffer in its child.
SQE_MAX_NBYTES = 64 << 20


def fds_in_sqes(sqes: object) -> list[object]:
    """The descriptors a list of `Sqe`s names (for `refuse_stdio`)."""
    if not isinstance(sqes, _COLLECTIONS):
        return []
    return [s.fd for s in sqes if isinstance(s, Sqe) and s.op in SQE_FD_OPS]


def _bounded(value: object, what: str, low: int, high: int) -> int:
    number = index(value)
    if not low <= number <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {number}")
    return number


def io_uring_entries(entries: object) -> int:
    """io_uring_setup's `entries`: an unsigned 32-bit number (the kernel then refuses 0 and
    anything above IORING_MAX_ENTRIES with EINVAL)."""
    return _bounded(entries, "entries", 0, 2**32 - 1)


def io_uring_min_complete(min_complete: object) -> int:
    """io_uring_wait's `min_complete`: an unsigned 32-bit number."""
    return _bounded(min_complete, "min_complete", 0, 2**32 - 1)


def io_uring_timeout_ns(timeout_ms: object) -> int | None:
    """io_uring_wait's timeout in ns; None (no limit) when negative."""
    ms = index(timeout_ms)
    if ms >= SELECT_TIMEOUT_MAX_S * 1000:
        raise OverflowError("timeout_ms too large")
    return None if ms < 0 else ms * 1_000_000


def check_sqes(sqes: object) -> list[Sqe]:
    """The submission list, checked field by field: ValueError (TypeError for what is not an
    `Sqe`) names the entry and the field, before any entry is queued."""
    if not isinstance(sqes, _COLLECTIONS):
        raise TypeError("sqes must be a list of Sqe")
    out = []
    for i, sqe in enumerate(sqes):
        if not isinstance(sqe, Sqe):
            raise TypeError(f"sqes[{i}] is a {type(sqe).__name__}, not an Sqe")
        if sqe.op not in IORING_OPS:
            raise ValueError(
                f"sqes[{i}]: unknown io_uring op {sqe.op!r}; one of {', '.join(IORING_OPS)}"
            )
        c_int(sqe.fd)
        _bounded(sqe.nbytes, f"sqes[{i}].nbytes", 0, SQE_MAX_NBYTES)
        _bounded(sqe.events, f"sqes[{i}].events", 0, 2**32 - 1)
        _bounded(sqe.user_data, f"sqes[{i}].user_data", 0, 2**64 - 1)
        _bounded(sqe.timeout_ms, f"sqes[{i}].timeout_ms", 0, SELECT_TIMEOUT_MAX_S * 1000)
        if index(sqe.flags) & ~SQE_FLAGS_MODELLED or sqe.flags < 0:
            raise ValueError(
                f"sqes[{i}].flags = {sqe.flags:#x}: only IOSQE_IO_LINK ({IOSQE_IO_LINK:#x}) and "
                f"IOSQE_IO_HARDLINK ({IOSQE_IO_HARDLINK:#x}) are supported"
            )
        out.append(sqe)
    return out


# --- timeouts, one rule per call (`syscalls.Timeout`) ---------------------------------------


def epoll_timeout_ms(timeout: object) -> int | None:
    """``select.epoll.poll``'s timeout rules: milliseconds, a float rounded up to whole ms,
    None or any negative value is infinite (None returned); a non-number is TypeError, NaN
    ValueError, beyond a C int OverflowError -- as CPython says."""
    if timeout is None:
        return None
    if isinstance(timeout, float):
        if math.isnan(timeout):
            raise ValueError("Invalid value NaN (not a number)")
        if math.isinf(timeout):
            raise OverflowError("timeout is too large")
        # epoll_wait() has a resolution of 1 ms: round up to wait at least that long.
        timeout = math.ceil(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise TypeError("timeout must be an integer or None")
    if not INT_MIN <= timeout <= INT_MAX:
        raise OverflowError("timeout is too large")
    return None if timeout < 0 else timeout


def pytime_from_object(value: object, unit_ns: int, type_error: str) -> int:
    """CPython's ``_PyTime_FromObject`` with ``_PyTime_ROUND_TIMEOUT``: `value` units of
    `unit_ns` as nanoseconds, rounded away from zero. `type_error` is the caller's message."""
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("Invalid value NaN (not a number)")
        scaled = value * unit_ns
        if not -PYTIME_LIMIT <= scaled < PYTIME_LIMIT:  # also catches the infinities
            raise OverflowError("timestamp out of range for platform time_t")
        return math.ceil(scaled) if scaled >= 0 else math.floor(scaled)
    if not isinstance(value, int):
        raise TypeError(type_error)
    ns = value * unit_ns
    if not -PYTIME_LIMIT <= ns < PYTIME_LIMIT:
        raise OverflowError("timestamp too large to convert to C _PyTime_t")
    return ns


def _divide_away_from_zero(ns: int, unit: int) -> int:
    """``_PyTime_Divide`` with ``_PyTime_ROUND_UP``."""
    quotient = -(-abs(ns) // unit)  # ceil(|ns| / unit)
    return quotient if ns >= 0 else -quotient


def poll_timeout_ms(timeout: object) -> int:
    """``select.poll.poll``'s timeout: milliseconds (ints or floats), rounded away from zero
    to whole ms; None or any negative value is -1 (infinite); beyond a C int OverflowError."""
    if timeout is None:
        return -1
    ns = pytime_from_object(timeout, 1_000_000, "timeout must be an integer or None")
    ms = _divide_away_from_zero(ns, 1_000_000)
    if not INT_MIN <= ms <= INT_MAX:
        raise OverflowError("timeout is too large")
    return max(ms, -1)


def select_timeout_ns(timeout: object) -> int | None:
    """``select.select``'s timeout: None blocks (None returned); seconds become a
    ``struct timeval``, rounded up to whole microseconds; any negative value is a ValueError."""
    if timeout is None:
        return None
    ns = pytime_from_object(timeout, 1_000_000_000, "timeout must be a float or None")
    if ns < 0:
        raise ValueError("timeout must be non-negative")
    return _divide_away_from_zero(ns, 1000) * 1000


def kevent_timeout_ns(timeout_s: object) -> int | None:
    """``kqueue.control``'s timeout (``_PyTime_FromSecondsObject(ROUND_TIMEOUT)``): seconds to
    ns, rounded away from zero; any failure (not a number, NaN, out of range) becomes one
    TypeError; a negative result is ValueError. None is infinite (None returned)."""
    if timeout_s is None:
        return None
    ns: int | None = None
    if isinstance(timeout_s, int):
        ns = timeout_s * 1_000_000_000
    elif isinstance(timeout_s, float) and math.isfinite(timeout_s):
        scaled = timeout_s * 1e9
        ns = math.ceil(scaled) if scaled >= 0 else math.floor(scaled)
    if ns is None or not -(2**63) <= ns < 2**63:
        raise TypeError(
            f"timeout argument must be a number or None, got {type(timeout_s).__name__}"
        )
    if ns < 0:
        raise ValueError("timeout must be positive or None")
    return ns


# --- the bounded infinite wait (live kernel) ------------------------------------------------


def bounded_timeout(rule: Timeout, timeout: object, bound_s: float) -> tuple[object, bool]:
    """What the live kernel hands CPython for a wait's `timeout` when it may block at most
    `bound_s` seconds, and whether the wait was infinite (then a wait that ends with nothing
    ready raises `WaitForeverError`, see `forever`).

    Only values CPython would accept as waits longer than the bound are cut to it: everything
    else (zero, short waits, values CPython refuses) passes unchanged, so CPython still refuses
    what it refuses. For `Timeout.EPOLL_MS` the value is converted here (`epoll_timeout_ms`:
    CPython's errors) and the result is whole milliseconds.
    """
    bound_ms = math.ceil(bound_s * 1000)
    if rule is Timeout.EPOLL_MS:
        wait_ms = epoll_timeout_ms(timeout)
        return (bound_ms if wait_ms is None else min(wait_ms, bound_ms)), wait_ms is None
    number = timeout if isinstance(timeout, (int, float)) else None
    if rule is Timeout.POLL_MS:
        infinite = timeout is None or (number is not None and INT_MIN <= number < 0)
        if infinite or (number is not None and bound_ms < number <= INT_MAX):
            return bound_ms, infinite
        return timeout, False
    if rule is Timeout.URING_MS or rule is Timeout.WIN_MS:
        wait_ns = io_uring_timeout_ns(timeout)
        infinite = wait_ns is None
        return (bound_ms if infinite else min(index(timeout), bound_ms)), infinite
    # seconds: select and kevent; None is infinite
    if timeout is None or (number is not None and bound_s < number < SELECT_TIMEOUT_MAX_S):
        return bound_s, timeout is None
    return timeout, False


def forever(call: str, bound_s: float) -> WaitForeverError:
    """The live kernel's answer to an infinite wait that nothing ended within its bound."""
    return WaitForeverError(
        f"{call} with an infinite timeout: nothing became ready within "
        f"{bound_s:g} s, so the real call would sleep forever"
    )


__all__ = [
    "INT_MAX",
    "INT_MIN",
    "SELECT_TIMEOUT_MAX_S",
    "STDIO_FDS",
    "bounded_timeout",
    "c_int",
    "check_sqes",
    "epoll_timeout_ms",
    "fds_in_changes",
    "fds_in_lists",
    "fds_in_poll_list",
    "fds_in_sqes",
    "fildes",
    "forever",
    "index",
    "io_uring_entries",
    "io_uring_min_complete",
    "io_uring_timeout_ns",
    "kevent_timeout_ns",
    "poll_timeout_ms",
    "refuse_stdio",
    "refuse_stdio_arguments",
    "select_timeout_ns",
    "socket_fileno",
]
