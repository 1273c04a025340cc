"""Knobs (issue 14): ``[params]`` and the template forms, expanded before a scenario is checked;
``--param`` on the command line; the costs lesson as a template, judged by the real kernel."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from simulator.scenario.check import check_file
from simulator.scenario.format import Scenario
from simulator.scenario.loader import ScenarioError, load_scenario, parse_scenario
from simulator.scenario.runner import Runner, default_model_factory
from simulator.scenario.template import Param
from tui.cli import main

COSTS = Path(__file__).parent.parent / "scenarios" / "select-poll-epoll-costs.toml"

TEMPLATE = """\
[params.N]
about = "pairs"
min = 1
max = 50
default = 3

[params.MODE]
choices = ["LT", "ET"]
default = "LT"

[scenario]
title = "pairs, {N} of them {{braces}}"

[model]
nofile = "{N * 2 + 8}"

[[step]]
repeat = "N"
do = "socketpair"
as = ["a{i}", "b{i}"]
say = "pair {i} of {N}"

[[step]]
do = "epoll_create"
as = "ep"

[[step]]
if = "MODE == ET"
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a1", events = ["IN", "ET"] }

[[step]]
if = "MODE != ET"
do = "epoll_ctl"
args = { epfd = "ep", op = "ADD", fd = "a1", events = ["IN"] }

[[step]]
do = "poll"
args = { fds = { repeat = "N", each = [["a{i}", ["IN"]], ["b{i}", ["OUT"]]] }, timeout_ms = 0 }
expect = { repeat = "N", each = [["b{i}", ["OUT"]]] }

[[step]]
do = "epoll_wait"
args = { epfd = "ep", maxevents = "{N + 1}", timeout_ms = 0 }
"""


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def problems(text: str, **params: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "t.toml", params=params)
    return str(info.value)


# --- expansion ------------------------------------------------------------------------------
def test_the_defaults_expand_every_form() -> None:
    scenario = parse_scenario(TEMPLATE)
    calls = [step.call.name for step in scenario.steps]
    assert calls == ["socketpair"] * 3 + ["epoll_create", "epoll_ctl", "poll", "epoll_wait"]
    assert [step.names for step in scenario.steps[:3]] == [["a1", "b1"], ["a2", "b2"], ["a3", "b3"]]
    assert scenario.steps[2].say == "pair 3 of 3"
    assert scenario.scenario.title == "pairs, 3 of them {braces}"
    assert scenario.model.nofile == 14  # "{N * 2 + 8}" became an integer
    assert scenario.steps[4].arguments.model_dump()["events"] == ["IN"]  # MODE == LT
    fds = scenario.steps[5].arguments.model_dump()["fds"]
    assert [fd for fd, _ in fds] == ["a1", "b1", "a2", "b2", "a3", "b3"]
    assert scenario.steps[5].expect == [["b1", ["OUT"]], ["b2", ["OUT"]], ["b3", ["OUT"]]]
    assert scenario.steps[6].arguments.model_dump()["maxevents"] == 4
    assert scenario.values == {"N": 3, "MODE": "LT"}
    assert isinstance(scenario.params["N"], Param)


def test_given_values_replace_the_defaults() -> None:
    scenario = parse_scenario(TEMPLATE, params={"N": "5", "MODE": "ET"})
    assert sum(step.call.name == "socketpair" for step in scenario.steps) == 5
    assert scenario.steps[6].arguments.model_dump()["events"] == ["IN", "ET"]
    assert scenario.values == {"N": 5, "MODE": "ET"}


def test_a_plain_scenario_is_read_as_written() -> None:
    text = '[scenario]\ntitle = "{not a template}"\n[[step]]\ndo = "socketpair"\n'
    scenario = parse_scenario(text)
    assert scenario.scenario.title == "{not a template}"
    assert scenario.params == {} and scenario.values == {}


def test_a_template_runs_on_the_model_like_a_plain_file() -> None:
    scenario = parse_scenario(TEMPLATE, params={"N": "4"})
    with Runner(scenario, default_model_factory, None) as runner:
        records = list(runner)
    assert len(records) == 4 + 4
    assert records[-1].model.result == []  # nothing readable: no step sent anything


# --- bad values and bad templates: one located message ----------------------------------------
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"N": "51"}, "parameter N: 51 is out of range: 1..50"),
        ({"N": "0"}, "parameter N: 0 is out of range: 1..50"),
        ({"N": "many"}, "parameter N: 'many' is not an integer; allowed: 1..50"),
        ({"MODE": "EPOLLET"}, "parameter MODE: 'EPOLLET' is not one of LT | ET"),
        ({"M": "3"}, "unknown parameter 'M'; this scenario declares: N, MODE"),
    ],
)
def test_a_value_outside_the_declaration_is_refused_with_the_range(
    params: dict[str, str], expected: str
) -> None:
    assert expected in problems(TEMPLATE, **params)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'say = "pair {i} of {N}"',
            'say = "pair {i} of {M}"',
            "t.toml:21: in 'M': unknown parameter 'M'; known here: N, MODE, i",
        ),
        (
            'if = "MODE == ET"',
            'if = "MODE"',
            "t.toml:28: in 'MODE': a condition compares two values",
        ),
        ('if = "MODE == ET"', 'if = "MODE < ET"', "names are compared with == or !="),
        ('repeat = "N"', 'repeat = "N - 100"', "t.toml:18: repeat count -97 is not between 0"),
        ('repeat = "N"', 'repeat = "N ** 2"', "unexpected '*'"),
        ('repeat = "N"', 'repeat = "__import__(os)"', "unknown parameter '__import__'"),
        ('repeat = "N"', 'repeat = "N / 0"', "division by zero"),
        ('"{N + 1}"', '"{N + 1"', "an unmatched brace"),
        ("default = 3", "default = 99", "t.toml:1: [params.N]: default: 99 is out of range: 1..50"),
        ('default = "LT"', 'default = "XX"', "t.toml:7: [params.MODE]: default 'XX' is not one of"),
    ],
)
def test_a_bad_template_is_reported_with_its_line(old: str, new: str, expected: str) -> None:
    assert old in TEMPLATE
    assert expected in problems(TEMPLATE.replace(old, new, 1))


def test_a_template_is_capped_in_steps() -> None:
    text = TEMPLATE.replace("max = 50", "max = 50000").replace('repeat = "N"', 'repeat = "N * N"')
    assert "t.toml:18: repeat count 40000 is not between 0 and 20000" in problems(text, N="200")
    text = TEMPLATE.replace("max = 50", "max = 50000").replace('repeat = "N"', 'repeat = "N * 50"')
    text = text.replace('do = "epoll_create"', 'repeat = "N * 50"\ndo = "epoll_create"')
    assert "the template makes more than 20000 steps" in problems(text, N="201")


def test_the_schema_describes_the_template_forms() -> None:
    schema = Scenario.model_json_schema(by_alias=True)
    assert "params" not in schema["properties"]  # the plain format, after expansion
    from simulator.scenario.format import json_schema

    full = json_schema()
    assert full["properties"]["params"]["additionalProperties"] == {"$ref": "#/$defs/Param"}
    assert {"repeat", "if"} <= set(full["$defs"]["EpollCtlStep"]["properties"])
    rlist = full["$defs"]["SelectArgs"]["properties"]["rlist"]["anyOf"]
    assert {"$ref": "#/$defs/GeneratedList"} in rlist


# --- the command line ---------------------------------------------------------------------------
def test_play_takes_param_and_refuses_a_value_out_of_range() -> None:
    status, out, _ = run_cli("play", str(COSTS), "--headless", "--no-live", "--param", "N=10")
    assert status == 0 and "fd_scan 30 is 3" in out
    status, out, err = run_cli("play", str(COSTS), "--headless", "--param", "N=10002")
    assert status != 0 and "parameter N: 10002 is out of range: 10..10000 (step 2)" in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--param", "N"], "expected NAME=VALUE (like N=100), got 'N'"),
        (["--param", "N=11"], "11 is out of range: 10..10000 (step 2)"),
        (["--param", "X=1"], "unknown parameter 'X'; this scenario declares: N"),
    ],
)
def test_check_reports_a_bad_param_in_one_line(argv: list[str], expected: str) -> None:
    status, out, err = run_cli("check", str(COSTS), "--no-live", *argv)
    assert status != 0 and expected in out + err and "Traceback" not in out + err


def test_param_on_a_scenario_without_params_is_an_error() -> None:
    plain = COSTS.parent / "et-stall.toml"
    status, _, err = run_cli("play", str(plain), "--headless", "--no-live", "--param", "N=3")
    assert status != 0 and "--param N: this scenario declares no [params]" in err


# --- the costs lesson: epoll flat, poll and select growing, the real kernel agreeing ------------
def _wait_costs(n: int) -> dict[str, list[int]]:
    scenario = load_scenario(COSTS, {"N": str(n)})
    totals: dict[str, list[int]] = {}
    with Runner(scenario, default_model_factory, None) as runner:
        for record in runner:
            name = record.step.call.name
            if name in ("select", "poll", "epoll_wait"):
                assert record.cost is not None
                totals.setdefault(name, []).append(sum(record.cost.as_dict().values()))
    return totals


def test_epoll_wait_stays_flat_while_poll_and_select_grow_with_n() -> None:
    small, large = _wait_costs(10), _wait_costs(400)
    assert small["epoll_wait"] == large["epoll_wait"]
    assert large["poll"][0] == 40 * small["poll"][0]  # copy in, scan, copy out: all O(N)
    assert large["select"][0] > 30 * small["select"][0]


@pytest.mark.parametrize("n", [52, 1022])
def test_the_costs_template_agrees_with_the_real_kernel(n: int) -> None:
    """At the default, and just past select's wall (fds up to 1024): CPython's ValueError on
    both sides, expected by the scenario's `if` branch."""
    result = check_file(COSTS, params={"N": str(n)})
    assert result.error is None, result.error
    assert result.bad_steps == []
    assert sum(result.counts.values()) > n
    steps = load_scenario(COSTS, {"N": str(n)}).steps
    selects = [s.expect for s in steps if s.call.name == "select"]
    assert (selects[0] == {"error": "ValueError"}) == (n + 2 >= 1024)


def test_the_menu_lists_a_template_with_its_expanded_steps_and_texts() -> None:
    from tui.lessons import load_lesson

    for glance in (True, False):
        lesson = load_lesson(COSTS, glance=glance)
        assert lesson.error is None
        assert lesson.steps_text == "knobs: N = 52"  # the steps follow N: no count to show
        assert "The same 52 connected sockets" in lesson.summary


def test_if_with_repeat_is_asked_for_each_i() -> None:
    text = TEMPLATE.replace('repeat = "N"\ndo', 'repeat = "N"\nif = "i != 2"\ndo', 1)
    with pytest.raises(ScenarioError, match="unknown fd name 'a2'"):
        parse_scenario(text)  # the poll still lists pair 2, which was never made
    before_poll = text.split('[[step]]\ndo = "poll"')[0]
    scenario = parse_scenario(before_poll)
    assert [step.names for step in scenario.steps][:3] == [["a1", "b1"], ["a3", "b3"], ["ep"]]
