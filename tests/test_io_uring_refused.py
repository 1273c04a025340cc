"""Where the kernel refuses io_uring, the live kernel says ENOSYS and the steps are model only.

Refused for real, not simulated: a subprocess installs a seccomp filter that makes
``io_uring_setup(2)`` fail -- with ENOSYS (a kernel built without io_uring) or EPERM (what
``kernel.io_uring_disabled`` answers) -- and then starts a `LiveKernel`, whose child inherits the
filter. (Setting the sysctl itself would change the machine for every other process.)
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Installs a seccomp filter (classic BPF: syscall nr 425 -> SECCOMP_RET_ERRNO | errno, all
#: others allowed), then runs the rest of the script.
_FILTER = """
import ctypes, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
code = int(sys.argv[1])
program = b"".join(
    struct.pack("HBBI", *insn)
    for insn in (
        (0x20, 0, 0, 0),  # ld [0]: seccomp_data.nr
        (0x15, 0, 1, 425),  # jeq #__NR_io_uring_setup
        (0x06, 0, 0, 0x00050000 | code),  # ret SECCOMP_RET_ERRNO | code
        (0x06, 0, 0, 0x7FFF0000),  # ret SECCOMP_RET_ALLOW
    )
)
buffer = ctypes.create_string_buffer(program)
fprog = struct.pack("HxxxxxxQ", 4, ctypes.addressof(buffer))
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
"""

_SETUP = """
from simulator.live import LiveKernel
with LiveKernel() as kernel:
    try:
        kernel.io_uring_setup(4)
    except OSError as exc:
        print(exc.errno)
"""


def _run(code: int, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _FILTER + script, str(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp and io_uring are Linux")
@pytest.mark.parametrize("refusal", [errno.ENOSYS, errno.EPERM])
def test_a_refused_io_uring_is_ENOSYS_on_the_live_kernel(refusal: int) -> None:
    done = _run(refusal, _SETUP)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(errno.ENOSYS)


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp and io_uring are Linux")
def test_a_refused_io_uring_makes_the_lesson_model_only() -> None:
    script = "from tui.cli import main\nsys.argv = ['muxlab', 'check', sys.argv[2]]\nmain()\n"
    done = _run(errno.EPERM, script, "scenarios/io-uring-basics.toml")
    # the socket steps agree; the six io_uring steps are model only, never agreement
    summary = "1 scenarios, 9 steps: 3 agree, 0 diverge, 0 expectation failed, 6 model only"
    assert summary in done.stdout, done.stdout + done.stderr
