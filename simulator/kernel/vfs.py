"""Files, descriptors, limits: ``struct file``, the fd table, RLIMIT_NOFILE, file-max.

An *open file description* (`File`, the kernel's ``struct file``) is what sockets, epoll
instances and regular files are; a *descriptor* is a slot in the process's `FdTable` pointing
at one. Several descriptors may share one file (``dup``), which is why epoll keys its interest
tree by ``(file, fd)`` and forgets a registration only when the *file* is released, not when a
descriptor is closed (KERNEL_SPEC EP-2, EP-20).
"""

from __future__ import annotations

import errno
import heapq
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.kernel.trace import TraceKind, Tracer
from simulator.kernel.waitqueue import WaitQueue

if TYPE_CHECKING:
    from simulator.kernel.eventpoll import EpItem

#: The default readiness of a file without a ->poll method (``DEFAULT_POLLMASK``).
DEFAULT_POLLMASK = 0x001 | 0x004 | 0x040 | 0x100  # IN | OUT | RDNORM | WRNORM


def oserror(code: int) -> OSError:
    """The exception CPython raises for `code` (``OSError`` picks the errno's subclass)."""
    return OSError(code, os.strerror(code))


class PollTable:
    """``poll_table``: what a file's ->poll() calls back to register a wait-queue entry.

    `queue_proc` is ``_qproc`` (None: just report readiness, register nothing); `key` is the
    event mask the caller cares about (``_key``).
    """

    __slots__ = ("key", "queue_proc")

    def __init__(self, queue_proc: Callable[[File, WaitQueue], None] | None, key: int) -> None:
        self.queue_proc = queue_proc
        self.key = key


class File:
    """``struct file``: one open file description.

    `file_id` is a stable identity (the kernel compares ``struct file *`` pointers; we compare
    these numbers, allocated in creation order). `f_count` counts the descriptors and in-flight
    references that keep it alive; the last `fput` calls `release`. `f_ep` lists the epitems
    watching this file, so its release can remove them from every epoll
    (``eventpoll_release_file``).
    """

    kind = "file"
    #: Files without a ->poll method cannot be added to epoll (EPERM) and are always ready.
    has_poll = False

    # Slots, not a __dict__, in every class of files that exist by the million (sockets,
    # their epoll): a quarter of the memory of a registered socket (bench_epoll_scale).
    # Subclasses without slots of their own (TCP, kqueue, regular files) still get a dict.
    __slots__ = ("f_count", "f_ep", "file_id", "fs", "label", "released", "wq")

    def __init__(self, kernel: FileSystem, label: str) -> None:
        self.fs = kernel
        self.file_id = kernel.next_file_id()
        self.label = label
        self.f_count = 0
        # A tuple, () until the first watcher (the kernel allocates ``f_ep`` on first use too):
        # files are watched by few epolls, and a million sockets need not keep a list each.
        self.f_ep: tuple[EpItem, ...] = ()
        self.wq = WaitQueue(kernel.tracer, label, ".wq")
        self.released = False

    def poll(self, pt: PollTable | None) -> int:
        """Current readiness mask; with a poll table, also register on our wait queue."""
        return DEFAULT_POLLMASK

    def register_poll(self, pt: PollTable | None) -> None:
        """``poll_wait``: let the poll table's queue proc hook us, if it wants to."""
        if pt is not None and pt.queue_proc is not None:
            pt.queue_proc(self, self.wq)

    def release(self) -> None:
        """Called once, when the last reference goes away (``__fput``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} #{self.file_id}>"


class RegularFile(File):
    """A regular file: no ->poll, so always readable and writable to poll/select."""

    kind = "file"


class FileSystem:
    """System-wide file accounting: live file count against ``fs.file-max`` (ENFILE).

    The real check (``alloc_empty_file``) exempts CAP_SYS_ADMIN; the model applies it to
    everyone, so ENFILE is a model-only lesson when the real side runs as root.
    """

    def __init__(self, tracer: Tracer, file_max: int) -> None:
        self.tracer = tracer
        self.file_max = file_max
        self.nr_files = 0
        self._file_ids = 0

    def next_file_id(self) -> int:
        self._file_ids += 1
        return self._file_ids

    def check_file_max(self, count: int = 1) -> None:
        """Raise ENFILE unless `count` more files fit under file-max."""
        if self.nr_files + count > self.file_max:
            raise oserror(errno.ENFILE)

    def get_file(self, file: File) -> File:
        """Account a newly created file and give it its first reference."""
        self.nr_files += 1
        file.f_count = 1
        return file

    def fput(self, file: File) -> None:
        """Drop one reference; the last one releases the file."""
        file.f_count -= 1
        if file.f_count == 0 and not file.released:
            file.released = True
            self.nr_files -= 1
            # __fput: eventpoll_release() runs before the file's own ->release(), so removing
            # the epitems never generates an event (KERNEL_SPEC EP-20).
            for epi in file.f_ep:  # a tuple: each removal makes a new one
                epi.ep.remove(epi)
            file.release()


class FdTable:
    """The process's descriptor table (``struct files_struct`` / ``fdtable``).

    Numbers are allocated lowest-free-first (``alloc_fd``), in O(log n) with a heap of freed
    numbers below the high-water mark. `capacity` is the table's allocated size
    (``max_fds``): 64 slots at start, doubling to fit the highest fd ever allocated; select(2)
    clips its scan to it (KERNEL_SPEC PS-4). 0, 1 and 2 are open at start, as in any process.
    """

    INITIAL_CAPACITY = 64

    def __init__(self, fs: FileSystem, nofile: int, nofile_hard: int) -> None:
        self.fs = fs
        self.tracer = fs.tracer
        self.nofile_hard = nofile_hard
        self.capacity = self.INITIAL_CAPACITY
        self.slots: dict[int, File] = {}
        self._free: list[int] = []  # freed numbers below _high (a heap)
        self._high = 0  # every number >= _high is free
        # The process inherited 0, 1 and 2; a limit below 3 only stops *new* descriptors.
        self.nofile = 3
        for label in ("stdin", "stdout", "stderr"):
            self.install(self.alloc_fd(), fs.get_file(RegularFile(fs, label)))
        self.nofile = nofile

    def __len__(self) -> int:
        return len(self.slots)

    def _lowest_free(self) -> int:
        return self._free[0] if self._free else self._high

    def alloc_fd(self) -> int:
        """``get_unused_fd_flags``: reserve the lowest free number, or raise EMFILE."""
        fd = self._lowest_free()
        if fd >= self.nofile:
            raise oserror(errno.EMFILE)
        if self._free and self._free[0] == fd:
            heapq.heappop(self._free)
        else:
            self._high = fd + 1
        if fd >= self.capacity:
            # expand_fdtable: round up to a power of two (>= 128 slots on 64-bit).
            self.capacity = max(128, 1 << fd.bit_length())
        self.slots[fd] = _RESERVED
        return fd

    def alloc_fds(self, count: int) -> list[int]:
        """Reserve `count` numbers at once, all or none (socketpair needs two)."""
        got: list[int] = []
        try:
            for _ in range(count):
                got.append(self.alloc_fd())
        except OSError:
            for fd in got:
                self.put_unused_fd(fd)
            raise
        return got

    def put_unused_fd(self, fd: int) -> None:
        """Give back a reserved number whose file was never installed."""
        del self.slots[fd]
        heapq.heappush(self._free, fd)

    def install(self, fd: int, file: File) -> None:
        """``fd_install``: point a reserved number at its file."""
        self.slots[fd] = file
        self.tracer.charge(
            TraceKind.FD_ALLOC, "fdtable", 0, "fd {e.fd} -> {e.subject}", fd=fd, subject=file.label
        )

    def get(self, fd: int) -> File:
        """``fdget``: the file at `fd`, or EBADF."""
        file = self.slots.get(fd)
        if file is None or file is _RESERVED:
            raise oserror(errno.EBADF)
        return file

    def lookup(self, fd: int) -> File | None:
        """The file at `fd`, or None (no error)."""
        file = self.slots.get(fd)
        return None if file is _RESERVED else file

    def close(self, fd: int) -> File:
        """``close_fd``: empty the slot and drop its reference; EBADF if not open."""
        file = self.get(fd)
        del self.slots[fd]
        heapq.heappush(self._free, fd)
        self.tracer.charge(
            TraceKind.FD_RELEASE, "fdtable", 0, "fd {e.fd} ({e.subject})", fd=fd, subject=file.label
        )
        self.fs.fput(file)
        return file


class _Reserved(File):
    """Placeholder for a number reserved by ``alloc_fd`` but not yet installed."""

    def __init__(self) -> None:  # no FileSystem: never polled, never released
        self.label = "reserved"


_RESERVED = _Reserved()
