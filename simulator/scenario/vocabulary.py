"""The words scenario files use for numbers: event bits, epoll ops, shutdown modes, kqueue
filters and flags, and error names.

Scenario authors write ``events = ["IN", "ET"]`` and ``{ error = "EEXIST" }``; kernels speak bit
masks and exceptions. This module translates both ways, with error messages that list the names
a reader could have meant. Every table comes from `simulator.uapi`, so there is one source of truth
for the values.
"""

from __future__ import annotations

import difflib
import errno

from simulator import syscalls, uapi

#: ``op`` of epoll_ctl, by name (``EPOLL_CTL_`` prefix dropped).
EPOLL_OPS: dict[str, int] = {
    "ADD": uapi.EPOLL_CTL_ADD,
    "DEL": uapi.EPOLL_CTL_DEL,
    "MOD": uapi.EPOLL_CTL_MOD,
}

#: ``how`` of shutdown, by name.
SHUTDOWN_HOWS: dict[str, int] = {
    "SHUT_RD": uapi.SHUT_RD,
    "SHUT_WR": uapi.SHUT_WR,
    "SHUT_RDWR": uapi.SHUT_RDWR,
}

#: Exceptions that are answers rather than bugs, named by class because they carry no errno:
#: the call table's `simulator.syscalls.ANSWER_EXCEPTIONS` (an errno-less OSError is CPython's
#: "invalid flags"; the others are CPython's own checks and the protocol's WaitForeverError).
EXCEPTION_NAMES: tuple[str, ...] = tuple(cls.__name__ for cls in syscalls.ANSWER_EXCEPTIONS)

#: Errno names this platform knows, each mapped to its canonical spelling (EWOULDBLOCK -> EAGAIN).
ERRNO_NAMES: dict[str, str] = {
    name: errno.errorcode[getattr(errno, name)]
    for name in dir(errno)
    if name.startswith("E") and isinstance(getattr(errno, name), int)
}

#: The name table of each `simulator.syscalls.Family` of flags.
FAMILIES: dict[syscalls.Family, dict[str, int]] = {
    syscalls.Family.EPOLL_EVENTS: uapi.EPOLL_EVENT_NAMES,
    syscalls.Family.EPOLL_OP: EPOLL_OPS,
    syscalls.Family.SHUTDOWN_HOW: SHUTDOWN_HOWS,
}


class VocabularyError(ValueError):
    """A name that is not in the table it was looked up in; the message lists the known ones."""


def _unknown(kind: str, name: str, known: dict[str, int] | tuple[str, ...]) -> VocabularyError:
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return VocabularyError(f"unknown {kind} {name!r}{hint}; known: {', '.join(names)}")


def mask_of(names: list[str] | int, table: dict[str, int], kind: str) -> int:
    """Turn a list of bit names (or a raw integer) into a mask.

    >>> mask_of(["IN", "ET"], uapi.EPOLL_EVENT_NAMES, "event name") == uapi.EPOLLIN | uapi.EPOLLET
    True
    """
    if isinstance(names, int):
        return names
    mask = 0
    for name in names:
        if name not in table:
            prefixed = [p for p in ("EPOLL", "POLL", "EV_", "KQ_EV_") if name.startswith(p)]
            if prefixed and name[len(prefixed[0]) :] in table:
                raise VocabularyError(
                    f"unknown {kind} {name!r}: write {name[len(prefixed[0]) :]!r} "
                    f"(scenario files drop the {prefixed[0]!r} prefix)"
                )
            raise _unknown(kind, name, table)
        mask |= table[name]
    return mask


def events_mask(names: list[str] | int) -> int:
    """epoll/poll event names (``["IN", "ET"]``) or a raw integer -> the bit mask."""
    return mask_of(names, uapi.EPOLL_EVENT_NAMES, "event name")


def kq_flags_mask(names: list[str] | int) -> int:
    """kqueue flag names (``["ADD", "CLEAR"]``) or a raw integer -> the EV_* mask."""
    return mask_of(names, uapi.KQ_FLAG_NAMES, "kqueue flag")


def lookup(name: str | int, table: dict[str, int], kind: str) -> int:
    """One name (or a raw integer) from `table`, e.g. an epoll op or a kqueue filter."""
    if isinstance(name, int):
        return name
    if name not in table:
        raise _unknown(kind, name, table)
    return table[name]


def filter_name(value: int) -> str | int:
    """A kqueue filter value back to its name, or the number itself if it has none."""
    for name, bit in uapi.KQ_FILTER_NAMES.items():
        if bit == value:
            return name
    return value


def error_name(name: str) -> str:
    """Check and canonicalise an error name from a scenario (``EWOULDBLOCK`` -> ``EAGAIN``)."""
    if name in EXCEPTION_NAMES:
        return name
    if name in ERRNO_NAMES:
        return ERRNO_NAMES[name]
    if name in uapi.WIN32_ERROR_NAMES:  # IOCP (model only): Windows' error names
        return name
    known = (
        *EXCEPTION_NAMES,
        "an errno name such as EEXIST, ENOENT, EBADF, EMFILE",
        "or (IOCP, model only) a Windows name such as WAIT_TIMEOUT, ERROR_IO_PENDING",
    )
    candidates = [*EXCEPTION_NAMES, *ERRNO_NAMES, *uapi.WIN32_ERROR_NAMES]
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise VocabularyError(f"unknown error name {name!r}{hint}; use {', '.join(known)}")


def exception_name(exc: BaseException) -> str:
    """The name a scenario uses for a raised exception: its errno name if it has one, else its
    class name (``FileExistsError`` -> ``EEXIST``; ``ValueError`` -> ``ValueError``)."""
    if isinstance(exc, uapi.Win32Error):  # IOCP (model only): WAIT_TIMEOUT, ERROR_IO_PENDING
        return exc.name
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    if isinstance(exc, OSError):
        return "OSError"
    return type(exc).__name__
