"""The control channel between `LiveKernel` and its child: framing, encoding, error transport.

A message is a 4-byte big-endian length, at most `MAX_MESSAGE`, followed by that many bytes of
JSON. Requests are ``(method, args)``; replies are ``("ok", result)``, ``("err", type_name,
errno, args)``, or ``("broken", reason)`` when the child could not read a request (it exits
after saying so: the framing is lost).

The encoding is data only, so neither end can be made to run anything by what the other
writes: JSON's types plus tagged objects, ``{"tuple": [...]}``, ``{"dict": [[k, v],
...]}`` and the protocol's records, ``{"KEvent": [six fields]}``, ``{"Sqe": [seven fields]}``
and ``{"Cqe": [three fields]}``, which keep tuples, non-string keys and the protocol's own
types exact across the channel (a model result and a live one compare equal). Anything
else -- an unknown tag, a truncated body, a length over the cap -- is a `ProtocolError`.

Errors travel by name, not as objects, so that only the exceptions a kernel may answer with
cross the channel (`encode_error`); anything else is a bug in the child and arrives as a
``RuntimeError`` carrying the child's traceback.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import struct
import traceback

from simulator.syscalls import ANSWER_EXCEPTIONS
from simulator.uapi import Cqe, KEvent, LiveLimitError, LiveSettleError, Sqe

HEADER = struct.Struct("!I")
#: The largest message either end sends or accepts (a reply of a million events fits).
MAX_MESSAGE = 64 << 20

#: Exceptions that travel by name: the answers (`simulator.syscalls.ANSWER_EXCEPTIONS`, what
#: CPython raises on the real kernel) and the live engine's own reports, `LiveLimitError` and
#: `LiveSettleError` (not answers: the run cannot go on).
_ANSWER_TYPES: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (*ANSWER_EXCEPTIONS, LiveLimitError, LiveSettleError)
}
#: The protocol's data classes the channel carries, by tag: their fields in order.
_RECORDS: dict[str, tuple[type[KEvent | Sqe | Cqe], tuple[str, ...]]] = {
    cls.__name__: (cls, tuple(f.name for f in dataclasses.fields(cls)))
    for cls in (KEvent, Sqe, Cqe)
}

Reply = tuple[object, ...]


class ProtocolError(ValueError):
    """A message that is not one: over the size cap, truncated, or not the data encoding."""


def frame(message: object) -> bytes:
    """The bytes that carry `message`: header and JSON. TypeError for a value that is not
    data (see the module docstring); ProtocolError if it would exceed `MAX_MESSAGE`."""
    payload = json.dumps(_to_json(message), separators=(",", ":")).encode()
    if len(payload) > MAX_MESSAGE:
        raise ProtocolError(
            f"a message of {len(payload)} bytes exceeds the control channel's limit of "
            f"{MAX_MESSAGE} bytes"
        )
    return HEADER.pack(len(payload)) + payload


def body_size(header: bytes) -> int:
    """The body length a header announces; ProtocolError if it exceeds `MAX_MESSAGE`."""
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ProtocolError(
            f"a message announced {size} bytes, more than the limit of {MAX_MESSAGE} bytes"
        )
    return int(size)


def decode(body: bytes) -> object:
    """The message `body` carries; ProtocolError for anything that is not the data encoding."""
    try:
        return json.loads(body.decode(), object_hook=_from_json_object)
    except ProtocolError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"not a message ({type(exc).__name__}: {exc})") from None


def decode_request(body: bytes) -> tuple[str, tuple[object, ...]]:
    """``(method, args)`` from a request body; ProtocolError if it has another shape."""
    message = decode(body)
    if (
        isinstance(message, tuple)
        and len(message) == 2
        and isinstance(message[0], str)
        and isinstance(message[1], tuple)
    ):
        return message[0], message[1]
    raise ProtocolError(f"not a request: {message!r:.80}")


def decode_reply(body: bytes) -> Reply:
    """A reply (see the module docstring); ProtocolError if it has another shape."""
    message = decode(body)
    if isinstance(message, tuple) and message:
        status = message[0]
        if status == "ok" and len(message) == 2:
            return message
        if status == "broken" and len(message) == 2 and isinstance(message[1], str):
            return message
        if (
            status == "err"
            and len(message) == 4
            and isinstance(message[1], str)
            and (message[2] is None or type(message[2]) is int)
            and isinstance(message[3], tuple)
        ):
            return message
    raise ProtocolError(f"not a reply: {message!r:.80}")


def _to_json(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [_to_json(item) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    record = _RECORDS.get(type(value).__name__)
    if record is not None and type(value) is record[0]:
        return {type(value).__name__: [_to_json(getattr(value, name)) for name in record[1]]}
    raise TypeError(
        f"a {type(value).__name__} cannot be sent to the live kernel (its control channel "
        "carries numbers, strings, lists, tuples, dicts, KEvents, Sqes and Cqes)"
    )


def _from_json_object(obj: dict[str, object]) -> object:
    if len(obj) == 1:
        ((tag, items),) = obj.items()
        if isinstance(items, list):
            if tag == "tuple":
                return tuple(items)
            if tag == "dict" and all(isinstance(p, list) and len(p) == 2 for p in items):
                return {k: v for k, v in items}
            record = _RECORDS.get(tag)
            if record is not None and len(items) == len(record[1]):
                return record[0](*items)
    raise ProtocolError(f"not a value of the data encoding: {obj!r:.80}")


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
