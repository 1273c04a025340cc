"""``muxlab sandbox --headless [FILE|-]``: sandbox lines from a file or stdin, answered in print.

Per line: the call, the model's answer, the real kernel's answer and the verdict; a line that
cannot run gets a caret under the column at fault and one message, and the run goes on. With
``--json`` each line is one JSON object instead (`simulator.scenario.sandbox.Answer.to_json`).
Lines are read one at a time (a pipe can feed it interactively) and capped in length, so a
file without newlines cannot fill the memory. Everything printed from the input is escaped
(`simulator.scenario.controls.printable`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from simulator.scenario.callsyntax import MAX_LINE
from simulator.scenario.challenge import Challenge, report, solved
from simulator.scenario.controls import printable
from simulator.scenario.loader import ScenarioError, read_text
from simulator.scenario.sandbox import INVALID, Answer, Sandbox, cannot_save

#: The biggest script file read (bytes), as for a scenario file.
MAX_SCRIPT = 1 << 20


def read_lines(stream: TextIO) -> Iterator[str]:
    """The lines of `stream`, one at a time; a line longer than `MAX_LINE` is cut to its first
    `MAX_LINE` + 1 characters (enough for the parser to refuse it) and the rest skipped."""
    while True:
        line = stream.readline(MAX_LINE + 2)
        if not line:
            return
        if not line.endswith("\n") and len(line) > MAX_LINE:
            while True:
                rest = stream.readline(1 << 16)
                if not rest or rest.endswith("\n"):
                    break
        yield line.rstrip("\n")


def run(
    source: Path | None,
    *,
    as_json: bool = False,
    live: bool = True,
    save: Path | None = None,
    out: TextIO | None = None,
    challenge: Challenge | None = None,
) -> int:
    """Run the script at `source` (None: stdin); returns 0, or 1 when a line diverged, could
    not run, or the file could not be read or saved, or the `challenge` was not solved (its
    judgement is printed last, with the hint when it was not)."""
    out = out or sys.stdout
    if save is not None:
        problem = cannot_save(save)
        if problem is not None:
            print(f"muxlab: --save: {problem}", file=sys.stderr)
            return 2
    if source is None or str(source) == "-":
        sys.stdin.reconfigure(errors="replace")  # type: ignore[union-attr]
        lines: Iterator[str] = read_lines(sys.stdin)
    else:
        try:
            lines = iter(read_text(source, cap=MAX_SCRIPT, kind="sandbox script").splitlines())
        except ScenarioError as exc:
            print(exc.report(), file=sys.stderr)
            return 1
    counts: Counter[str] = Counter()
    with Sandbox(live=live, challenge=challenge) as sandbox:
        for number, answer in enumerate(sandbox.run_all(lines), 1):
            counts[answer.verdict] += 1
            if as_json:
                out.write(json.dumps({"line": number, **answer.to_json()}) + "\n")
            else:
                out.write(_text(number, answer))
            out.flush()
        unsolved = False
        if challenge is not None:
            judgement = sandbox.judge()
            unsolved = not solved(challenge, judgement)
            verdict = report(challenge, judgement)
            if as_json:
                row = {"challenge": challenge.challenge.title, "solved": not unsolved}
                row |= {"calls": judgement.calls, "message": verdict}
                out.write(json.dumps(row) + "\n")
            else:
                out.write(f"challenge: {printable(challenge.challenge.title)}\n")
                out.writelines(f"    {printable(part)}\n" for part in verdict.splitlines())
        saved = None
        if save is not None:
            try:
                saved = sandbox.save(save)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                print(f"muxlab: --save: {printable(reason)}", file=sys.stderr)
                return 1
    if not as_json:
        total = sum(counts.values())
        parts = [f"{counts[v]} {v.replace('_', ' ')}" for v in ("agree", "diverge", "model_only")]
        parts.append(f"{counts[INVALID]} invalid")
        out.write(f"{total} lines: {', '.join(parts)}\n")
    if saved is not None:
        print(f"muxlab: {saved}", file=sys.stderr)
    failed = counts["diverge"] or counts[INVALID] or counts["expect_failed"] or unsolved
    return 1 if failed else 0


def _text(number: int, answer: Answer) -> str:
    head = f"[{number}] "
    lines = [head + answer.text]
    if answer.record is None:
        if answer.column is not None:
            lines.append(" " * (len(head) + answer.column - 1) + "^")
        label = "" if answer.is_command else "error: "
        if answer.column is not None:
            label += f"column {answer.column}: "
        message = answer.message or ""
        lines += ["    " + label + part for part in message.splitlines()]
        return "\n".join(lines) + "\n"
    record = answer.record
    lines.append(f"    model: {printable(answer.model_text or '')}")
    real = answer.live_text
    lines.append(f"    real:  {printable(real) if real is not None else '(not run)'}")
    lines.append(f"    {record.verdict.value.replace('_', ' ')}")
    if record.note:
        lines.append(f"    note: {printable(record.note)}")
    if record.diff:
        lines += ["    " + printable(part) for part in record.diff.splitlines()]
    return "\n".join(lines) + "\n"
