"""The real io_uring, through raw syscalls (``io_uring_setup``/``io_uring_enter``) and ``mmap``.

Only the live child imports this module (at start-up: binding opens no file). `Ring` is one
``io_uring`` instance: its fd, the two rings mapped into our memory, and the buffers the
kernel reads or writes while an operation is in flight (a parked RECV writes into its buffer
when data arrives, long after the submitting call returned). Layouts are the kernel's
``include/uapi/linux/io_uring.h`` (x86-64 and arm64 share them, and the syscall numbers 425
and 426 are the same on every architecture since 5.1).

Why raw syscalls rather than a binding: see README.md, "The live io_uring". In short: nothing
to install (ctypes and mmap are the standard library), every field we teach is ours to see,
and the ring is exactly what the model draws.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct

from simulator import uapi

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.mmap.restype = ctypes.c_void_p
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value

SYS_IO_URING_SETUP = 425
SYS_IO_URING_ENTER = 426

IORING_OFF_SQ_RING = 0
IORING_OFF_CQ_RING = 0x8000000
IORING_OFF_SQES = 0x10000000
IORING_FEAT_SINGLE_MMAP = 1 << 0
IORING_ENTER_GETEVENTS = 1 << 0
IORING_ENTER_EXT_ARG = 1 << 3

SQE_SIZE = 64
CQE_SIZE = 16
#: ``struct io_uring_sqe``: opcode, flags, ioprio, fd, off, addr, len, op flags, user_data,
#: buf_index, personality, splice_fd_in, addr3, pad.
_SQE = struct.Struct("<BBHiQQIIQHHiQQ")
_CQE = struct.Struct("<QiI")
_TIMESPEC = struct.Struct("<qq")
#: ``struct io_uring_getevents_arg``: sigmask, sigmask_sz, min_wait_usec, ts.
_GETEVENTS_ARG = struct.Struct("<QIIQ")


class _Mapping:
    """A shared mapping of part of the ring fd, through libc's mmap(2): Python's ``mmap``
    keeps a duplicate of the fd (on 3.11), which would take descriptor numbers the lessons
    count. ``memory`` is a writable buffer over it (for ``struct.pack_into``)."""

    def __init__(self, fd: int, size: int, offset: int) -> None:
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        address = _libc.mmap(None, size, prot, flags, fd, offset)
        if address is None or address == _MAP_FAILED:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.address: int = address
        self.size = size
        self.memory = (ctypes.c_char * size).from_address(address)

    def close(self) -> None:
        _libc.munmap(self.address, self.size)


def refused(code: int | None) -> bool:
    """Whether io_uring_setup's error means the kernel refuses io_uring altogether: not built
    in (ENOSYS) or disabled by the ``kernel.io_uring_disabled`` sysctl (EPERM)."""
    return code in (errno.ENOSYS, errno.EPERM)


class _SqOffsets(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint32)
        for name in ("head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array")
    ] + [("resv1", ctypes.c_uint32), ("user_addr", ctypes.c_uint64)]


class _CqOffsets(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint32)
        for name in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags")
    ] + [("resv1", ctypes.c_uint32), ("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    """``struct io_uring_params`` (120 bytes)."""

    _fields_ = [
        ("sq_entries", ctypes.c_uint32),
        ("cq_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("sq_thread_cpu", ctypes.c_uint32),
        ("sq_thread_idle", ctypes.c_uint32),
        ("features", ctypes.c_uint32),
        ("wq_fd", ctypes.c_uint32),
        ("resv", ctypes.c_uint32 * 3),
        ("sq_off", _SqOffsets),
        ("cq_off", _CqOffsets),
    ]


def _raise(ret: int) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def io_uring_setup(entries: int, params: _Params) -> int:
    """io_uring_setup(2): a new ring's fd, or OSError (ENOSYS, EPERM where it is disabled)."""
    return _raise(_libc.syscall(SYS_IO_URING_SETUP, ctypes.c_uint32(entries), ctypes.byref(params)))


def io_uring_enter(
    fd: int, to_submit: int, min_complete: int, flags: int, arg: ctypes.Array[ctypes.c_char] | None
) -> int:
    """io_uring_enter(2) with an optional ``io_uring_getevents_arg``; OSError on failure."""
    size = 0 if arg is None else len(arg)
    return _raise(
        _libc.syscall(
            SYS_IO_URING_ENTER,
            ctypes.c_int(fd),
            ctypes.c_uint32(to_submit),
            ctypes.c_uint32(min_complete),
            ctypes.c_uint32(flags),
            arg,
            ctypes.c_size_t(size),
        )
    )


#: accept4() flags of an ACCEPT: the protocol's sockets are non-blocking and close-on-exec.
_ACCEPT_FLAGS = 0o4000 | 0o2000000  # SOCK_NONBLOCK | SOCK_CLOEXEC


def encode(sqe: uapi.Sqe) -> tuple[int, int, int, int, bytes | None]:
    """``(opcode, addr, len, op_flags, payload)`` of `sqe`: `payload`, when not None, is the
    memory ``addr`` must point at (a buffer to fill or send, a timespec)."""
    op = sqe.op
    opcode = uapi.IORING_OPS[op]
    if op in ("RECV", "SEND"):
        return opcode, 0, sqe.nbytes, 0, bytes(sqe.nbytes)
    if op == "POLL_ADD":
        return opcode, 0, 0, sqe.events, None
    if op in ("POLL_REMOVE", "ASYNC_CANCEL"):
        return opcode, sqe.user_data, 0, 0, None
    if op == "ACCEPT":
        return opcode, 0, 0, _ACCEPT_FLAGS, None
    if op == "TIMEOUT":
        seconds, ms = divmod(sqe.timeout_ms, 1000)
        return opcode, 0, 1, 0, _TIMESPEC.pack(seconds, ms * 1_000_000)
    return opcode, 0, 0, 0, None  # NOP, CLOSE


class Ring:
    """One io_uring instance of the child: fd, mapped rings, in-flight buffers.

    `submit` writes SQEs at the SQ tail and enters; `wait` enters with GETEVENTS and reaps the
    CQ from head to tail. The kernel owns the SQ head and the CQ tail; we own the others.
    """

    def __init__(self, entries: int) -> None:
        params = _Params()
        self.fd = io_uring_setup(entries, params)
        try:
            sq_size = params.sq_off.array + params.sq_entries * 4
            cq_size = params.cq_off.cqes + params.cq_entries * CQE_SIZE
            if params.features & IORING_FEAT_SINGLE_MMAP:
                sq_size = cq_size = max(sq_size, cq_size)
            sq = _Mapping(self.fd, sq_size, IORING_OFF_SQ_RING)
            single = params.features & IORING_FEAT_SINGLE_MMAP
            cq = sq if single else _Mapping(self.fd, cq_size, IORING_OFF_CQ_RING)
            sqes = _Mapping(self.fd, params.sq_entries * SQE_SIZE, IORING_OFF_SQES)
        except BaseException:
            os.close(self.fd)
            raise
        self._maps = {id(m): m for m in (sq, cq, sqes)}.values()
        self._sq = sq.memory
        self._cq = cq.memory
        self._sqes = sqes.memory
        self.sq_entries = params.sq_entries
        self.cq_entries = params.cq_entries
        self._sq_off = params.sq_off
        self._cq_off = params.cq_off
        # Buffers the kernel may still read or write, by user_data (a RECV's destination, a
        # SEND's source, a TIMEOUT's timespec): kept alive until their completion is reaped.
        # A user_data may name several SQEs (a cancel carries its target's), so the buffers
        # go when every SQE submitted with it has completed.
        self._buffers: dict[int, list[object]] = {}
        self._inflight: dict[int, int] = {}

    @staticmethod
    def _u32(memory: ctypes.Array[ctypes.c_char], offset: int) -> int:
        value: int = struct.unpack_from("<I", memory, offset)[0]
        return value

    def submit(self, fd: int, sqes: list[uapi.Sqe]) -> int:
        """Queue what fits of `sqes` at the SQ tail and enter through descriptor `fd` (this
        ring's, or a dup of it): the number the kernel consumed.

        The buffers an SQE points at (a RECV's destination, a SEND's source, a TIMEOUT's
        timespec) are kept alive until its completion is reaped.
        """
        head = self._u32(self._sq, self._sq_off.head)
        tail = self._u32(self._sq, self._sq_off.tail)
        mask = self._u32(self._sq, self._sq_off.ring_mask)
        room = self.sq_entries - ((tail - head) & 0xFFFFFFFF)
        queued = 0
        for sqe in sqes[:room]:
            index = (tail + queued) & mask
            opcode, addr, length, op_flags, payload = encode(sqe)
            if payload is not None:
                buffer = ctypes.create_string_buffer(payload, max(len(payload), 1))
                self._buffers.setdefault(sqe.user_data, []).append(buffer)
                addr = ctypes.addressof(buffer)
            _SQE.pack_into(
                self._sqes,
                index * SQE_SIZE,
                opcode,
                sqe.flags,
                0,
                sqe.fd,
                0,
                addr,
                length,
                op_flags,
                sqe.user_data,
                0,
                0,
                0,
                0,
                0,
            )
            struct.pack_into("<I", self._sq, self._sq_off.array + index * 4, index)
            self._inflight[sqe.user_data] = self._inflight.get(sqe.user_data, 0) + 1
            queued += 1
        tail = (tail + queued) & 0xFFFFFFFF
        struct.pack_into("<I", self._sq, self._sq_off.tail, tail)
        # Everything the SQ holds: an SQE the kernel refused last time stopped the batch, and
        # the ones behind it are still queued, ahead of ours.
        return io_uring_enter(fd, (tail - head) & 0xFFFFFFFF, 0, 0, None)

    def enter_wait(self, fd: int, min_complete: int, timeout_ns: int | None) -> None:
        """Enter through `fd` to wait for `min_complete` completions or `timeout_ns` (None: no
        timeout); ETIME is no error here (the caller reaps what is there)."""
        flags = IORING_ENTER_GETEVENTS
        arg = None
        if timeout_ns is not None:
            ts = ctypes.create_string_buffer(_TIMESPEC.pack(*divmod(timeout_ns, 1_000_000_000)))
            arg = ctypes.create_string_buffer(
                _GETEVENTS_ARG.pack(0, 0, 0, ctypes.addressof(ts)), _GETEVENTS_ARG.size
            )
            flags |= IORING_ENTER_EXT_ARG
        try:
            io_uring_enter(fd, 0, min_complete, flags, arg)
        except OSError as exc:
            if exc.errno not in (errno.ETIME, errno.EINTR):
                raise

    def ready(self) -> int:
        """Completions waiting in the CQ."""
        head = self._u32(self._cq, self._cq_off.head)
        tail = self._u32(self._cq, self._cq_off.tail)
        return (tail - head) & 0xFFFFFFFF

    def reap(self) -> list[uapi.Cqe]:
        """Every completion in the CQ, head to tail; the head moves past them."""
        head = self._u32(self._cq, self._cq_off.head)
        tail = self._u32(self._cq, self._cq_off.tail)
        mask = self._u32(self._cq, self._cq_off.ring_mask)
        out = []
        while head != tail:
            user_data, res, flags = _CQE.unpack_from(
                self._cq, self._cq_off.cqes + (head & mask) * CQE_SIZE
            )
            out.append(uapi.Cqe(user_data, res, flags))
            self._completed(user_data)
            head = (head + 1) & 0xFFFFFFFF
        struct.pack_into("<I", self._cq, self._cq_off.head, head)
        return out

    @property
    def in_flight(self) -> bool:
        """Whether a submitted SQE's completion has not been reaped yet (its request may still
        hold a reference to the file it names)."""
        return bool(self._inflight)

    def _completed(self, user_data: int) -> None:
        """One SQE of `user_data` completed: its buffers go once none is in flight."""
        left = self._inflight.get(user_data, 0) - 1
        if left > 0:
            self._inflight[user_data] = left
        else:
            self._inflight.pop(user_data, None)
            self._buffers.pop(user_data, None)

    def unmap(self) -> None:
        """Unmap the rings, once no descriptor of ours refers to the ring any more (closing
        the last one lets the kernel cancel what is still in flight)."""
        for mapping in self._maps:
            mapping.close()
