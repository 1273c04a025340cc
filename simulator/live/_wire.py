"""The control channel between `LiveKernel` and its child: framing and error transport.

A message is a 4-byte big-endian length followed by that many bytes of pickle. Requests are
``(method, args)``; replies are ``("ok", result)`` or ``("err", type_name, errno, args)``.
Both ends are muxlab's own code, so unpickling is no trust boundary.

Errors travel by name, not as pickled objects, so that only the exceptions a kernel may answer
with cross the channel (`encode_error`); anything else is a bug in the child and arrives as a
``RuntimeError`` carrying the child's traceback.
"""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import traceback

from simulator.uapi import WaitForeverError

HEADER = struct.Struct("!I")

#: Exceptions that are answers (what CPython raises on the real kernel), by name.
_ANSWER_TYPES: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (ValueError, TypeError, OverflowError, KeyError, MemoryError, WaitForeverError)
}

Reply = tuple[object, ...]


def frame(message: object) -> bytes:
    """The bytes that carry `message`: header and pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a blocking `fd` (a pipe may take it in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def encode_error(exc: BaseException) -> Reply:
    """``("err", type name, errno, args)`` for an answer; a RuntimeError reply for our bugs."""
    if isinstance(exc, OSError) and type(exc).__module__ == "builtins":
        return ("err", type(exc).__name__, exc.errno, exc.args)
    if type(exc) in _ANSWER_TYPES.values():
        return ("err", type(exc).__name__, None, exc.args)
    text = "".join(traceback.format_exception(exc))
    return ("err", "RuntimeError", None, (f"bug in the live kernel's child process:\n{text}",))


def decode_error(name: str, errno: int | None, args: tuple[object, ...]) -> Exception:
    """Rebuild the exception `encode_error` described: same type, errno and args.

    ``OSError(errno, strerror)`` picks the subclass from the errno (EAGAIN -> BlockingIOError,
    EEXIST -> FileExistsError, ...), exactly as CPython did in the child.
    """
    if errno is not None:
        return OSError(*args)
    cls = _ANSWER_TYPES.get(name)
    if cls is None:
        found = getattr(builtins, name, None)
        cls = (
            found
            if isinstance(found, type) and issubclass(found, (OSError, RuntimeError))
            else RuntimeError
        )
    return cls(*args)
