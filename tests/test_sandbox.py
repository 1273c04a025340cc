"""The sandbox (issue 14): typed call lines run on the model and the real kernel in lockstep.

The engine (`simulator.scenario.sandbox`, `simulator.scenario.callsyntax`) is driven with plain
calls on both real kernels; ``muxlab sandbox --headless`` and the round trip of ``save`` through
``muxlab check`` run the real command in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import syscalls
from simulator.scenario.callsyntax import MAX_LINE, LineError, parse_line
from simulator.scenario.controls import control_index
from simulator.scenario.sandbox import HEADER, Sandbox

MUXLAB = str(Path(sys.executable).parent / "muxlab")
#: The issue's five lines.
FIVE = [
    "a, b = socketpair()",
    "ep = epoll_create()",
    "epoll_ctl(ep, ADD, a, IN | ET)",
    "send(b, 5)",
    "epoll_wait(ep, 8, 0)",
]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def run_lines(box: Sandbox, lines: list[str]) -> list[str]:
    """Each line's verdict, asserting every line ran."""
    verdicts = []
    for line in lines:
        answer = box.enter(line)
        assert answer is not None and answer.record is not None, (line, answer)
        verdicts.append(answer.verdict)
    return verdicts


def muxlab(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MUXLAB, *argv], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


# --- the engine ------------------------------------------------------------------------------
def test_the_five_lines_agree_and_answer_in_the_learners_names(sandbox: Sandbox) -> None:
    assert run_lines(sandbox, FIVE) == ["agree"] * 5
    last = sandbox.records[-1]
    answer = sandbox.enter("epoll_wait(ep, 8, 0)")
    assert answer is not None
    # The edge was reported once: the second wait finds nothing (EP-7), on both kernels.
    assert (answer.model_text, answer.live_text, answer.verdict) == ("[]", "[]", "agree")
    assert last.live is not None and last.live.result == [["a", ["IN"]]]
    first = sandbox.records[4]
    assert first.call == "epoll_wait(epfd=ep, maxevents=8, timeout_ms=0)"
    assert sandbox.position == 6


def test_the_first_wait_shows_a_with_in(sandbox: Sandbox) -> None:
    run_lines(sandbox, FIVE[:4])
    answer = sandbox.enter(FIVE[4])
    assert answer is not None
    assert answer.model_text == answer.live_text == "[(a, IN)]"


def test_errors_are_the_real_kernels(sandbox: Sandbox) -> None:
    run_lines(sandbox, FIVE[:3])
    answer = sandbox.enter("epoll_ctl(ep, ADD, a, IN)")
    assert answer is not None and answer.verdict == "agree"
    assert answer.live_text == answer.model_text == "EEXIST: [Errno 17] File exists"
    answer = sandbox.enter("close(1)")
    assert answer is not None and answer.live_text is not None
    assert answer.live_text.startswith("ValueError: fd 1 is a standard stream")


def test_c_names_and_keywords_make_the_same_step() -> None:
    bound = ["a", "ep"]
    short = parse_line("epoll_ctl(ep, ADD, a, IN | ET)", bound).document
    c_names = parse_line("epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN | EPOLLET)", bound).document
    keywords = parse_line("epoll_ctl(events=IN|ET, fd=a, op=ADD, epfd=ep)", bound).document
    assert short["args"] == c_names["args"] == keywords["args"]
    assert short["args"] == {"epfd": "ep", "op": "ADD", "fd": "a", "events": ["IN", "ET"]}


def test_every_call_of_the_table_is_in_the_language() -> None:
    """The vocabulary is the call table's: a call added there is typed here with no change."""
    values = {
        syscalls.ArgKind.FD: "a",
        syscalls.ArgKind.SOCKET: "a",
        syscalls.ArgKind.FD_LIST: "[a]",
        syscalls.ArgKind.POLL_LIST: "[(a, IN)]",
        syscalls.ArgKind.KEVENT_CHANGES: "[(a, READ, ADD)]",
        syscalls.ArgKind.BYTES: "1",
        syscalls.ArgKind.BACKLOG: "1",
        syscalls.ArgKind.NOFILE: "8",
        syscalls.ArgKind.MAX_EVENTS: "8",
        syscalls.ArgKind.TIMEOUT: "0",
        syscalls.ArgKind.SQE_LIST: "[Sqe(RECV, a, 5, user_data=1)]",
        syscalls.ArgKind.ENTRIES: "4",
        syscalls.ArgKind.COMPLETIONS: "1",
        syscalls.ArgKind.BOOL: "True",
        # IOCP (model only): a handle is a descriptor (or -1), keys and tags are numbers
        syscalls.ArgKind.HANDLE: "a",
        syscalls.ArgKind.KEY: "7",
    }
    flags = {
        syscalls.Family.EPOLL_EVENTS: "IN",
        syscalls.Family.EPOLL_OP: "ADD",
        syscalls.Family.SHUTDOWN_HOW: "SHUT_WR",
    }
    steps = {name: call for name, call in syscalls.CALLS.items() if call.scenario}
    assert "set_blocking" in steps and "start" not in steps  # threads are named, not called
    for name, call in steps.items():
        args = [flags[a.family] if a.family else values[a.kind] for a in call.args]
        parsed = parse_line(f"{name}({', '.join(args)})", ["a"])
        assert parsed.step.call.name == name
        assert list(parsed.document["args"]) == [a.name for a in call.args]


def test_a_bad_line_gives_one_message_and_the_session_goes_on(sandbox: Sandbox) -> None:
    run_lines(sandbox, FIVE[:2])
    answer = sandbox.enter("send(c, 5)")
    assert answer is not None and answer.record is None and answer.verdict == "invalid"
    assert answer.column == 6
    assert answer.message == "unknown descriptor name c; bound so far: a, b, ep"
    assert run_lines(sandbox, FIVE[2:]) == ["agree"] * 3
    assert sandbox.position == 5


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("send(b, 5", 5, "'(' was never closed"),
        ("send(b, 5))", 11, "unmatched ')'"),
        ("epol_wait(ep)", 1, "unknown call epol_wait (did you mean epoll_wait?)"),
        ("send(b)", 7, "send needs nbytes: send(fd, nbytes)"),
        ("send(b, 5, 6)", 12, "send takes at most 2 arguments"),
        ("send(b, nbytes=1, fd=a)", 19, "argument fd is given twice"),
        ("send(b, 'x')", 9, "expected a whole number, got 'x'"),
        ("send(b, 2.5)", 9, "expected a whole number"),
        ("send(b, 99999999999999999999999999)", 9, "nbytes: input should be less than"),
        ("close(99999999999999999999)", 7, "outside the C int range"),
        ("epoll_ctl(ep, ADD, a, IM)", 23, "unknown event IM"),
        ("epoll_ctl(ep, ADD|DEL, a)", 15, "not a combination"),
        ("epoll_ctl(ep, ADD, a, IN & ET)", 23, "combine flags with | only"),
        ("x = send(b, 5)", 1, "send returns no descriptor to name"),
        ("x = socketpair()", 1, "socketpair returns two descriptors"),
        ("fd9 = epoll_create()", 1, "'fd9' is reserved"),
        ("send(b, 5); send(b, 5)", 13, "one call per line"),
        ("import os", 1, "expected one call"),
        ("__import__('os').system('id')", 1, "is not a call's name"),
        ("send(*[b, 5])", 6, "no * unpacking"),
        ("select([a], [], [], 1e999)", 21, "inf is not a number of seconds"),
        ("send(b, 5)\x1b]0;pwned\x07", 11, "an escape (U+001B) cannot be typed here"),
        ("send(b,\u202e 5)", 8, "U+202E"),
        ("[" * 300, 201, "too many nested parentheses"),
        ("epoll_ctl(ep, ADD, a, " + "IN|" * 1300 + "IM)", 3923, "unknown event IM"),
    ],
)
def test_bad_lines_point_at_their_column(line: str, column: int, words: str) -> None:
    with pytest.raises(LineError) as info:
        parse_line(line, ["a", "b", "ep"])
    assert info.value.column == column, str(info.value)
    assert words in info.value.message
    text = str(info.value)
    assert "\n" not in text and control_index(text) is None


def test_an_empty_line_read_alone_is_a_message() -> None:
    for line in ("", "   ", "# only a comment"):
        with pytest.raises(LineError, match=r"^expected a call, like send"):
            parse_line(line)


def test_deep_nesting_is_a_message() -> None:
    with pytest.raises(LineError) as info:
        parse_line("send(b, " + "-" * 3000 + "1)", ["b"])
    assert str(info.value) == "the line is nested too deeply"


def test_a_huge_line_is_refused_unread() -> None:
    with pytest.raises(LineError, match=f"at most {MAX_LINE}"):
        parse_line("send(b, " + "9" * 100_000 + ")", ["b"])


def test_rewind_then_a_new_line_branches_and_replays_the_real_kernel(sandbox: Sandbox) -> None:
    run_lines(sandbox, [*FIVE, "epoll_wait(ep, 8, 0)"])
    sandbox.seek(3)  # before send(b, 5): the model goes back, the real kernel is not touched
    assert sandbox.position == 3
    assert sandbox.records[5].model.result == []  # the records after the position are kept
    answer = sandbox.enter("epoll_wait(ep, 8, 0)")
    # A new branch: nothing was sent in it, so nothing is ready, on a fresh real kernel too.
    assert answer is not None and answer.verdict == "agree"
    assert answer.model_text == answer.live_text == "[]"
    assert [line.text for line in sandbox.lines] == [*FIVE[:3], "epoll_wait(ep, 8, 0)"]
    assert sandbox.position == 4 and len(sandbox.records) == 4


def test_names_bound_after_the_position_are_unknown_after_a_rewind(sandbox: Sandbox) -> None:
    run_lines(sandbox, FIVE[:2])
    sandbox.seek(1)
    answer = sandbox.enter("epoll_wait(ep, 8, 0)")
    assert answer is not None and answer.message is not None
    assert "unknown descriptor name ep" in answer.message


def test_help_lists_every_call(sandbox: Sandbox) -> None:
    answer = sandbox.enter("help")
    assert answer is not None and answer.is_command and answer.message is not None
    for name in syscalls.CALLS:
        assert f"  {name}(" in answer.message


# --- save, through the real `muxlab check` ----------------------------------------------------
def test_save_writes_a_scenario_that_muxlab_check_passes(sandbox: Sandbox, tmp_path: Path) -> None:
    lines = [*FIVE, "epoll_wait(ep, 8, 0)", "epoll_ctl(ep, ADD, a, IN)", "dup(a)", "q = kqueue()"]
    run_lines(sandbox, lines)
    out = tmp_path / "session.toml"
    answer = sandbox.enter(f"save {out}")
    assert answer is not None and answer.message == f"saved 9 steps to {out}"
    text = out.read_text()
    assert text.startswith(HEADER)
    assert 'expect = [["a", ["IN"]]]' in text and 'expect = { error = "EEXIST" }' in text
    done = muxlab("check", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 steps: 8 agree, 0 diverge, 0 expectation failed, 1 model only" in done.stdout


def test_save_never_overwrites_a_file_it_did_not_write(sandbox: Sandbox, tmp_path: Path) -> None:
    run_lines(sandbox, FIVE[:1])
    precious = tmp_path / "notes.toml"
    precious.write_text("mine\n")
    answer = sandbox.enter(f"save {precious}")
    assert answer is not None and answer.message is not None
    assert answer.message.startswith("cannot save: ") and "not a saved sandbox" in answer.message
    assert precious.read_text() == "mine\n"
    again = tmp_path / "s.toml"
    for _ in range(2):  # its own file it overwrites
        answer = sandbox.enter(f"save {again}")
        assert answer is not None and answer.message == f"saved 1 step to {again}"


# --- muxlab sandbox --headless ------------------------------------------------------------------
def test_headless_prints_call_answers_and_verdicts(tmp_path: Path) -> None:
    script = tmp_path / "five.txt"
    script.write_text("\n".join(["# the issue's lines", *FIVE, "", "send(c, 5)"]) + "\n")
    done = muxlab("sandbox", "--headless", str(script))
    assert done.returncode == 1  # the bad line fails the run, after every line ran
    out = done.stdout.splitlines()
    assert out[:4] == [
        "[1] a, b = socketpair()",
        "    model: (a, b)",
        "    real:  (a, b)",
        "    agree",
    ]
    assert out[16:20] == [
        "[5] epoll_wait(ep, 8, 0)",
        "    model: [(a, IN)]",
        "    real:  [(a, IN)]",
        "    agree",
    ]
    assert out[20:23] == [
        "[6] send(c, 5)",
        "         ^",
        "    error: column 6: unknown descriptor name c; bound so far: a, b, ep",
    ]
    assert out[-1] == "6 lines: 5 agree, 0 diverge, 0 model only, 1 invalid"
    assert done.stderr == ""


def test_headless_json_from_stdin_and_save(tmp_path: Path) -> None:
    out = tmp_path / "out.toml"
    text = "\n".join([*FIVE, "send(b, 5)\x1b[2J"]) + "\n"
    done = muxlab("sandbox", "--json", "-", "--save", str(out), stdin=text)
    assert done.returncode == 1
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["verdict"] for r in rows] == ["agree"] * 5 + ["invalid"]
    assert rows[4]["call"] == "epoll_wait(ep, 8, 0)"
    assert rows[4]["model"] == rows[4]["live"] == {"result": [["a", ["IN"]]], "raw": [[3, 1]]}
    assert rows[5]["call"] == "send(b, 5)\\x1b[2J" and rows[5]["column"] == 11
    assert "\x1b" not in done.stdout
    assert done.stderr == f"muxlab: saved 5 steps to {out}\n"
    checked = muxlab("check", str(out))
    assert checked.returncode == 0 and "5 steps: 5 agree" in checked.stdout


def test_headless_refuses_a_save_target_before_running(tmp_path: Path) -> None:
    done = muxlab("sandbox", "--headless", "-", "--save", str(tmp_path / "no" / "x.toml"))
    assert done.returncode == 2
    assert done.stderr == f"muxlab: --save: no such folder {tmp_path / 'no'}\n"


def test_headless_bad_script_file_is_one_message(tmp_path: Path) -> None:
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    done = muxlab("sandbox", "--headless", str(binary))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "is not UTF-8 text" in done.stderr
    done = muxlab("sandbox", "--headless", str(tmp_path / "missing.txt"))
    assert done.returncode == 1 and done.stderr.strip().endswith("no such file")


def test_headless_endless_line_on_stdin_is_refused_and_the_next_runs() -> None:
    text = "x" * (MAX_LINE * 3) + "\nsocketpair()\n"
    done = muxlab("sandbox", "--headless", "--no-live", "-", stdin=text)
    out = done.stdout.splitlines()
    assert f"at most {MAX_LINE}" in done.stdout
    assert out[-1] == "2 lines: 0 agree, 0 diverge, 1 model only, 1 invalid"


def test_the_app_needs_a_terminal_and_file_options_need_headless(tmp_path: Path) -> None:
    done = muxlab("sandbox", stdin="")
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr and "muxlab sandbox --headless -" in done.stderr
    done = muxlab("sandbox", str(tmp_path / "x.txt"))
    assert done.returncode == 2
    assert done.stderr == (
        "muxlab: FILE and --save are for --headless; in the app, type `save FILE`\n"
    )


def test_the_runner_of_a_session_records_what_replays_it(sandbox: Sandbox) -> None:
    """`Runner.append` keeps the runner's scenario whole: its recording replays the session
    without the real kernel, answer for answer."""
    from simulator.scenario.runner import Runner

    run_lines(sandbox, FIVE)
    runner = sandbox.runner
    assert runner is not None and len(runner.scenario.steps) == 5
    with Runner(runner.scenario, recording=runner.recording()) as replay:
        again = list(replay)
    assert [r.live for r in again] == [r.live for r in sandbox.records]
    assert [r.verdict.value for r in again] == ["agree"] * 5


_TOKENS = [
    *syscalls.CALLS,
    "a", "b", "ep", "IN", "ET", "ADD", "EPOLLIN", "None", "KEvent", "READ",
    "(", ")", "[", "]", ",", "|", "=", "-", "0", "5", "99999999999999999999", "1e999", "'x'",
    "*", "**", ".", ":", ";", "#", "\\", "\x1b", "\u202e", " ",
]  # fmt: skip


@given(st.lists(st.sampled_from(_TOKENS), max_size=40) | st.text(max_size=200))
def test_anything_typed_is_a_step_or_one_message(typed: list[str] | str) -> None:
    """Whatever is typed, the reader gives a step or a `LineError` of one printable line."""
    line = typed if isinstance(typed, str) else "".join(typed)
    try:
        parse_line(line, ["a", "b", "ep"])
    except LineError as exc:
        text = str(exc)
        assert text and "\n" not in text and control_index(text) is None
