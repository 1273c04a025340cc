"""Challenges (issue 14): shipped goals, each met by a reference solution on the real kernel
and missed by a near miss (which earns the hint); impossible goals refused at validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenario.challenge import (
    check,
    find_challenge,
    load_challenge,
    report,
    shipped_challenges,
)
from simulator.scenario.loader import ScenarioError
from simulator.scenario.sandbox import Sandbox

PAIR = ["a, b = socketpair()", "ep = epoll_create()"]
#: name -> (a solution in par calls, a near miss)
SOLUTIONS: dict[str, tuple[list[str], list[str]]] = {
    "twice": (
        [*PAIR, "epoll_ctl(ep, ADD, a, IN)", "send(b, 5)", *["epoll_wait(ep, 8, 0)"] * 2],
        [*PAIR, "epoll_ctl(ep, ADD, a, IN | ET)", "send(b, 5)", *["epoll_wait(ep, 8, 0)"] * 2],
    ),
    "et-stall": (
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN | ET)",
            "send(b, 5)",
            "epoll_wait(ep, 8, 0)",
            "recv(a, 1)",
            "epoll_wait(ep, 8, 0)",
            "recv(a, 8)",
        ],
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN | ET)",
            "send(b, 5)",
            "epoll_wait(ep, 8, 0)",
            "recv(a, 5)",  # everything read: no stall, the later recv finds nothing
            "epoll_wait(ep, 8, 0)",
            "recv(a, 8)",
        ],
    ),
    "emfile-accept": (
        [
            "setrlimit_nofile(6)",
            "l = tcp_listen()",
            "c = tcp_connect(l)",
            "spare = open_file()",
            "accept(l)",
            "close(spare)",
            "s = accept(l)",
        ],
        ["setrlimit_nofile(6)", "l = tcp_listen()", "c = tcp_connect(l)", "s = accept(l)"],
    ),
    "epoll-errors": (
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN)",
            "epoll_ctl(ep, ADD, a, IN)",
            "epoll_ctl(ep, DEL, b)",
            "f = open_file()",
            "epoll_ctl(ep, ADD, f, IN)",
        ],
        [*PAIR, "epoll_ctl(ep, ADD, a, IN)", "epoll_ctl(ep, ADD, a, IN)", "epoll_ctl(ep, DEL, b)"],
    ),
    "oneshot-rearm": (
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN | ONESHOT)",
            "send(b, 5)",
            "epoll_wait(ep, 8, 0)",
            "epoll_ctl(ep, MOD, a, IN | ONESHOT)",
            "epoll_wait(ep, 8, 0)",
        ],
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN | ONESHOT)",
            "send(b, 5)",
            *["epoll_wait(ep, 8, 0)"] * 2,  # disabled after the first report
        ],
    ),
    "closed-but-reported": (
        [
            *PAIR,
            "epoll_ctl(ep, ADD, a, IN)",
            "c = dup(a)",
            "close(a)",
            "send(b, 5)",
            "epoll_wait(ep, 8, 0)",
        ],
        # Without the dup, close removes the registration (EP-20): nothing is reported.
        [*PAIR, "epoll_ctl(ep, ADD, a, IN)", "close(a)", "send(b, 5)", "epoll_wait(ep, 8, 0)"],
    ),
    "half-close": (
        [*PAIR, "epoll_ctl(ep, ADD, a, IN | RDHUP)", "shutdown(b, SHUT_WR)", "epoll_wait(ep)"],
        # RDHUP is reported only when asked for.
        [*PAIR, "epoll_ctl(ep, ADD, a, IN)", "shutdown(b, SHUT_WR)", "epoll_wait(ep)"],
    ),
    "poll-nval": (
        ["a, b = socketpair()", "close(a)", "poll([(a, IN)], 0)"],
        ["a, b = socketpair()", "poll([(a, IN)], 0)"],
    ),
}


def run(lines: list[str], name: str) -> tuple[bool, int, str]:
    challenge = load_challenge(shipped_challenges()[name])
    with Sandbox(challenge=challenge) as box:
        for line in lines:
            answer = box.enter(line)
            assert answer is not None and answer.verdict == "agree", (line, answer)
        judgement = box.judge()
        checked = box.enter("check")
        assert judgement == check(challenge, box.records)
        assert judgement.judge == "the real kernel"
        assert checked is not None and checked.message == report(challenge, judgement)
        return judgement.solved, judgement.calls, checked.message


def test_at_least_six_challenges_ship_and_each_has_a_solution() -> None:
    shipped = shipped_challenges()
    assert len(shipped) >= 6
    assert sorted(shipped) == sorted(SOLUTIONS)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_the_solution_solves_it_on_the_real_kernel_in_par(name: str) -> None:
    lines, _ = SOLUTIONS[name]
    solved, calls, message = run(lines, name)
    par = load_challenge(shipped_challenges()[name]).challenge.par
    assert solved, message
    assert calls == par == len(lines)
    assert message == f"Solved in {par} calls (par {par}), judged on the real kernel's answers."


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_a_near_miss_is_not_solved_and_gets_the_hint(name: str) -> None:
    _, lines = SOLUTIONS[name]
    solved, _, message = run(lines, name)
    hint = " ".join(load_challenge(shipped_challenges()[name]).challenge.hint.split())
    assert not solved
    assert message.startswith("Not yet: ") and message.endswith(f"\nHint: {hint}")


def test_what_is_missing_is_said_with_counts() -> None:
    _, _, message = run(SOLUTIONS["twice"][1], "twice")
    assert message.startswith(
        "Not yet: at least 2 epoll_wait reporting IN on one same descriptor (you have 1)."
    )


def challenge_file(tmp_path: Path, needs: str, extra: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[challenge]\ntitle = "t"\ngoal = "g"\nhint = "h"\n{extra}\n{needs}')
    return path


@pytest.mark.parametrize(
    ("needs", "extra", "message"),
    [
        (
            '[[need]]\ndo = "epoll_wait"\nanswer = { reports = ["ET"] }\n',
            "",
            "c.toml:8: need 1, answer: ET is a flag one sets; no kernel ever reports it",
        ),
        (
            '[[need]]\ndo = "send"\nanswer = { reports = ["IN"] }\n',
            "",
            "c.toml:8: need 1, answer: send returns no events: it can report nothing",
        ),
        (
            '[[need]]\ndo = "send"\nat_most = 1\n\n[[need]]\ndo = "send"\nanswer = "ok"\n'
            "at_least = 2\n",
            "",
            "c.toml:13: need 2, at_least: needs 2 such calls, but need 1 allows at most 1 calls "
            "that include them",
        ),
        (
            '[[need]]\ndo = "close"\nat_least = 3\nat_most = 2\n',
            "",
            "c.toml:9: need 1, at_most: at_most = 2 is below at_least = 3",
        ),
        (
            '[[need]]\ndo = "send"\nafter = 1\n',
            "",
            "c.toml:8: need 1, after: after = 1 must name an earlier need; the first has none",
        ),
        (
            '[[need]]\ndo = "send"\nat_least = 3\n\n[[need]]\ndo = "recv"\nafter = 1\n',
            "max_calls = 3",
            "c.toml:5: field [challenge] max_calls: the needs take at least 4 calls, more than "
            "max_calls = 3",
        ),
        (
            '[[need]]\ndo = "epoll_ctl"\nargs = { events = ["IM"] }\n',
            "",
            "c.toml:8: need 1, args: unknown epoll events 'IM'; known: IN, PRI",
        ),
        (
            '[[need]]\ndo = "epol_wait"\n',
            "",
            "c.toml:7: need 1, do: unknown call 'epol_wait'; known calls: socketpair",
        ),
        (
            '[[need]]\ndo = "accept"\nanswer = { error = "EMFLIE" }\n',
            "",
            "c.toml:8: need 1, answer.error: unknown error name 'EMFLIE' (did you mean 'EMFILE'?)",
        ),
    ],
)
def test_impossible_or_wrong_goals_are_reported_at_validation(
    tmp_path: Path, needs: str, extra: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_challenge(challenge_file(tmp_path, needs, extra))
    text = str(info.value)
    assert message in text, text
    assert "Traceback" not in text


def test_a_challenge_is_found_by_name_or_path(tmp_path: Path) -> None:
    assert find_challenge("twice") == shipped_challenges()["twice"]
    with pytest.raises(ScenarioError, match="no such challenge; the shipped ones: "):
        find_challenge("nope")


def muxlab(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "muxlab"), *argv]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)


def test_headless_judges_a_challenge() -> None:
    lines = "\n".join(SOLUTIONS["poll-nval"][0]) + "\n"
    done = muxlab("sandbox", "--headless", "--challenge", "poll-nval", "-", stdin=lines)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-3:] == [
        "challenge: poll on nothing",
        "    Solved in 3 calls (par 3), judged on the real kernel's answers.",
        "3 lines: 3 agree, 0 diverge, 0 model only, 0 invalid",
    ]
    lines = "\n".join(SOLUTIONS["poll-nval"][1]) + "\n"
    done = muxlab("sandbox", "--json", "--challenge", "poll-nval", "-", stdin=lines)
    assert done.returncode == 1
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["solved"] is False and last["calls"] == 2
    assert last["message"].startswith("Not yet: at least 1 poll reporting NVAL (you have 0).")


def test_a_bad_challenge_is_one_message(tmp_path: Path) -> None:
    done = muxlab("sandbox", "--headless", "--challenge", "nope", "-")
    assert done.returncode == 1 and "no such challenge; the shipped ones: " in done.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[challenge]\ntitle = "t"\ngoal = "g"\nhint = "h"\n[[need]]\ndo = "send"\n'
        'answer = { reports = ["HUP"] }\n'
    )
    done = muxlab("sandbox", "--headless", "--challenge", str(bad), "-")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr == f"{bad}:7: need 1, answer: send returns no events: it can report nothing\n"
    )


def test_the_challenge_schema_is_printed() -> None:
    done = muxlab("schema", "--challenge")
    schema = json.loads(done.stdout)
    assert done.returncode == 0
    assert set(schema["properties"]) == {"challenge", "need"}
    assert "reports" in json.dumps(schema)


def test_muxlab_validate_checks_challenge_files(tmp_path: Path) -> None:
    shipped = [str(path) for path in shipped_challenges().values()]
    done = muxlab("validate", *shipped)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{shipped[-1]}: ok (a challenge, 2 needs)"
    bad = challenge_file(tmp_path, '[[need]]\ndo = "epoll_wait"\nanswer = { reports = ["ET"] }\n')
    done = muxlab("validate", str(bad))
    assert done.returncode == 1
    assert (
        done.stderr
        == f"{bad}:8: need 1, answer: ET is a flag one sets; no kernel ever reports it\n"
    )
