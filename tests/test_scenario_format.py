"""The scenario format: loading, checking, and one clean message for every kind of bad input.

Also holds the small TOML writer and the known-good document the CLI tests reuse: the standard
library reads TOML but does not write it, and documents built as dicts are easy to mutate.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.kernel import ModelKernel
from simulator.scenario.format import MAX_FILE_BYTES, MAX_NBYTES, ModelParams, json_schema
from simulator.scenario.loader import ScenarioError, load_scenario, parse_scenario
from tui.cli import main

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(document: dict[str, Any]) -> str:
    """Write a scenario-shaped document: top-level scalars, tables, and arrays of tables."""
    lines = [
        f"{_key(k)} = {_value(v)}"
        for k, v in document.items()
        if not (isinstance(v, dict) or _is_table_array(v))
    ]
    for key, value in document.items():
        if isinstance(value, dict):
            lines += ["", f"[{_key(key)}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in value.items()]
        elif _is_table_array(value):
            for table in value:
                lines += ["", f"[[{_key(key)}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def good_document() -> dict[str, Any]:
    """A valid scenario exercising most of the format."""
    return {
        "scenario": {"title": "Edge-triggered stall", "mechanism": "epoll", "tags": ["epoll"]},
        "model": {"nofile": 64},
        "step": [
            {"do": "socketpair", "as": ["a", "b"], "say": "Two ends."},
            {"do": "epoll_create", "as": "ep"},
            {
                "do": "epoll_ctl",
                "args": {"epfd": "ep", "op": "ADD", "fd": "a", "events": ["IN", "ET"]},
                "expect": "ok",
            },
            {"do": "send", "args": {"fd": "b", "nbytes": 10}, "expect": 10},
            {
                "do": "epoll_wait",
                "args": {"epfd": "ep", "maxevents": 8, "timeout_ms": 0},
                "expect": [["a", ["IN"]]],
                "ask": "What is ready?",
                "choices": [[], [["a", ["IN"]]]],
            },
            {"do": "poll", "args": {"fds": [["a", ["IN"]], ["b", 4]]}},
            {"do": "select", "args": {"rlist": ["a"], "wlist": [], "timeout_s": 0}},
            {"do": "shutdown", "args": {"fd": "b", "how": "SHUT_WR"}},
            {
                "do": "kevent",
                "args": {"kq": 3, "changes": [{"ident": "a", "filter": "READ", "flags": ["ADD"]}]},
                "model_only": True,
            },
            {"do": "close", "args": {"fd": "a"}, "expect": {"error": "EBADF"}},
        ],
    }


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run ``muxlab ARGV`` in-process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def problems_of(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "x.toml")
    return str(info.value)


# --- the good path --------------------------------------------------------------------------
def test_good_document_loads() -> None:
    scenario = parse_scenario(to_toml(good_document()), "good.toml")
    assert scenario.scenario.title == "Edge-triggered stall"
    assert [s.call.name for s in scenario.steps][:3] == ["socketpair", "epoll_create", "epoll_ctl"]
    assert scenario.steps[0].names == ["a", "b"]
    assert scenario.model.kwargs() == {"nofile": 64}


def test_model_parameters_are_checked_against_model_kernel() -> None:
    document = good_document()
    document["model"] = {"nofile": 64, "trace": False}
    assert parse_scenario(to_toml(document)).model.kwargs() == {"nofile": 64, "trace": False}
    document["model"] = {"tracing": False}
    assert "unknown model parameter 'tracing' (did you mean 'trace'?)" in problems_of(
        to_toml(document)
    )
    # Every parameter the format accepts is one ModelKernel really takes.
    taken = inspect.signature(ModelKernel).parameters
    assert set(ModelParams.model_fields) <= set(taken)


def test_model_parameters_are_typed() -> None:
    """Issue 8 item 13: `trace = "no thanks"` was accepted (the table allowed extra keys)."""
    document = good_document()
    document["model"] = {"trace": "no thanks"}
    assert "field [model] trace: input should be a valid boolean" in problems_of(to_toml(document))


def test_model_limits_are_checked_together() -> None:
    document = good_document()
    document["model"] = {"nofile": 100, "nofile_hard": 50}
    assert "nofile (100) exceeds nofile_hard (50)" in problems_of(to_toml(document))
    document["model"] = {"file_max": 0}
    assert "file_max" in problems_of(to_toml(document))
    document["model"] = {"nofile": 0}  # legal on Linux: no new descriptor at all
    assert parse_scenario(to_toml(document)).model.kwargs() == {"nofile": 0}


def test_a_pair_needs_two_different_names() -> None:
    document = good_document()
    document["step"][0]["as"] = ["a", "a"]
    assert "the two names must differ" in problems_of(to_toml(document))


def test_schema_is_json_schema_of_the_format() -> None:
    schema = json_schema()
    assert schema["title"] == "muxlab scenario"
    assert set(schema["properties"]) == {"scenario", "model", "step", "params"}
    assert "EpollCtlStep" in schema["$defs"]
    status, out, _ = run_cli("schema")
    assert status == 0 and json.loads(out) == schema


# --- one message, located -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["step"][2]["args"].update(events=["IN", "EDGE"]), "unknown event name 'EDGE'"),
        (lambda d: d["step"][2]["args"].update(events=["EPOLLIN"]), "write 'IN'"),
        (lambda d: d["step"][2].update(do="epol_ctl"), "did you mean 'epoll_ctl'"),
        (lambda d: d["step"][3]["args"].update(size=3), "unknown argument 'size'"),
        (lambda d: d["step"][3]["args"].update(nbytes="ten"), "field args.nbytes"),
        (lambda d: d["step"][3]["args"].update(nbytes=MAX_NBYTES + 1), "less than or equal"),
        (lambda d: d["step"][3]["args"].update(fd="nope"), "unknown fd name 'nope'"),
        (lambda d: d["step"][3].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d["step"][2]["args"].update(op="ADDD"), "unknown epoll_ctl op 'ADDD'"),
        (lambda d: d["step"][7]["args"].update(how="WR"), "unknown shutdown mode 'WR'"),
        (lambda d: d["step"][4].update(expect=[["zz", ["IN"]]]), "unknown fd name 'zz'"),
        (lambda d: d["step"][4].update(expect={"error": "EEXISTS"}), "did you mean 'EEXIST'"),
        (lambda d: d["step"][4].pop("choices"), "`ask` and `choices` go together"),
        (lambda d: d["step"][0].update({"as": "a"}), "two descriptors"),
        (lambda d: d["step"][3].update({"as": "x"}), "returns no descriptor"),
        (lambda d: d["scenario"].pop("title"), "missing required field 'title'"),
        (lambda d: d["scenario"].update(mechanism="kqueues"), "[scenario] mechanism"),
        (lambda d: d["model"].update(nofile=-1), "[model] nofile"),
        (lambda d: d["model"].update(colour=1), "colour"),
        (lambda d: d.update(extra={"a": 1}), "unknown key 'extra'"),
        (lambda d: d["step"][8]["args"]["changes"][0].update(filter="RD"), "kqueue filter"),
        (lambda d: d["step"][2]["args"].update(fd="fd7"), "reserved"),
    ],
)
def test_bad_documents_name_file_step_and_field(mutate: Any, expected: str) -> None:
    document = good_document()
    mutate(document)
    message = problems_of(to_toml(document))
    assert expected in message
    assert all(line.startswith("x.toml:") for line in message.splitlines())


def test_errors_carry_the_line_of_the_bad_value() -> None:
    document = good_document()
    document["step"][3]["args"]["fd"] = "nope"
    text = to_toml(document)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"nope"' in t)
    assert problems_of(text).startswith(f"x.toml:{line}: step 4 (send), field args.fd:")


def test_toml_syntax_error_has_line() -> None:
    assert problems_of('[scenario]\ntitle = "x"\n\n[[step]]\ndo = \n').startswith(
        "x.toml:5: TOML syntax error"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n"])
def test_empty_file(text: str) -> None:
    assert "is empty" in problems_of(text)


def test_files_that_are_not_scenarios(tmp_path: Path) -> None:
    binary = tmp_path / "blob.toml"
    binary.write_bytes(bytes(range(256)))
    nul = tmp_path / "nul.toml"
    nul.write_text('title = "a\x00"')
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_FILE_BYTES + 1))
    cases = {
        binary: "binary",
        nul: "NUL byte",
        big: "capped",
        tmp_path / "missing.toml": "no such file",
        tmp_path: "is a directory",
    }
    for path, expected in cases.items():
        with pytest.raises(ScenarioError, match=expected):
            load_scenario(path)


def test_steps_are_capped() -> None:
    document = good_document()
    document["step"] = [{"do": "socketpair"}] * 20_001
    assert "at most 20000" in problems_of(to_toml(document))


# --- validate on generated malformed input --------------------------------------------------
# Values no field accepts anywhere in a step (tables nest, fd names and flags are strings).
_BAD_VALUES = st.sampled_from([{"bad": [1.5]}, [{"bad": [1.5]}], [[[]]]])
# Wrong types for particular fields.
_WRONG_TYPES = [
    (3, "nbytes", "ten"),
    (3, "nbytes", 2.5),
    (3, "fd", 3.0),
    (2, "events", 5.5),
    (2, "events", "IN"),
    (2, "op", ["ADD"]),
    (4, "maxevents", True),
    (7, "how", None),
]
_SYNTAX_BREAKERS = ["= 1", "[[step", 'x = "unterminated', "a = [1, 2", "key", "[scenario]"]


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in the document (tables and arrays included)."""
    out = [prefix] if prefix else []
    items = document.items() if isinstance(document, dict) else enumerate(document)
    for key, value in items:
        if isinstance(value, dict | list):
            out += _paths(value, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """A scenario file that must be refused: a good document with one damaging mutation."""
    document = good_document()
    kind = draw(
        st.sampled_from(
            [
                "unknown_key",
                "wrong_value",
                "unknown_do",
                "unknown_name",
                "unknown_flag",
                "drop",
                "syntax",
                "bytes",
                "empty",
                "wrong_type",
                "cap",
            ]
        )
    )
    steps = document["step"]
    index = draw(st.integers(0, len(steps) - 1))
    if kind == "unknown_key":
        where = draw(st.sampled_from(["top", "scenario", "step", "args"]))
        key = "z" + draw(st.text("abcdefgh_", min_size=1, max_size=6))
        {
            "top": document,
            "scenario": document["scenario"],
            "step": steps[index],
            "args": steps[index].setdefault("args", {}),
        }[where][key] = 1
    elif kind == "wrong_value":
        paths = [p for p in _paths(document) if p[0] == "step" and len(p) >= 3]
        path = draw(st.sampled_from(paths))
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(_BAD_VALUES)
    elif kind == "wrong_type":
        index, key, value = draw(st.sampled_from(_WRONG_TYPES))
        steps[index]["args"][key] = value if value is not None else {"x": 1}
    elif kind == "unknown_do":
        steps[index]["do"] = draw(
            st.text(min_size=1, max_size=12).filter(lambda s: s != "socketpair")
        )
        steps[index].pop("args", None)
        if steps[index]["do"] in {"epoll_create", "open_file", "kqueue", "tcp_listen"}:
            steps[index]["do"] += "!"
    elif kind == "unknown_name":
        steps[3]["args"]["fd"] = draw(st.sampled_from(["c", "zz", "srv", "A"]))
    elif kind == "unknown_flag":
        flag = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8))
        steps[2]["args"]["events"] = ["IN", flag + "X"]
    elif kind == "drop":
        dropped = draw(st.sampled_from(["title", "do", "steps", "scenario", "epfd"]))
        if dropped == "title":
            del document["scenario"]["title"]
        elif dropped == "do":
            del steps[index]["do"]
        elif dropped == "steps":
            del document["step"]
        elif dropped == "scenario":
            del document["scenario"]
        else:
            del steps[2]["args"]["epfd"]
    elif kind == "cap":
        steps[3]["args"]["nbytes"] = draw(st.integers(MAX_NBYTES + 1, 2**62))
    text = to_toml(document)
    if kind == "syntax":
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(_SYNTAX_BREAKERS)))
        text = "\n".join(lines)
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n\n", b"   ", b"# only a comment\n"]))
    return text.encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed())
def test_validate_refuses_malformed_documents_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.toml"
        path.write_bytes(data)
        status, out, err = run_cli("validate", str(path))
    assert status == 1, err
    assert out == ""
    assert err.strip(), "no message"
    assert "Traceback" not in err
    lines = err.strip().split("\n")
    assert all(line.startswith(str(path)) for line in lines), err


def test_validate_reports_each_file_and_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(to_toml(good_document()))
    status, out, err = run_cli("validate", str(tmp_path / "missing.toml"), str(good), str(tmp_path))
    assert status == 1
    assert out == f"{good}: ok (10 steps)\n"
    assert err.splitlines() == [
        f"{tmp_path / 'missing.toml'}: no such file",
        f"{tmp_path}: is a directory, not a scenario file",
    ]


# --- issue 8: hardening -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "title",
            "Two\nlines",
            "field [scenario] title: must be one line of plain text, found a "
            "line break (U+000A) at character 4",
        ),
        ("title", "\x1b]0;pwned\x07", "found an escape (U+001B) at character 1"),
        ("title", "a\x9b31m", "found a control character (U+009B) at character 2"),
        ("title", "abc\u202edcba", "found a control character (U+202E) at character 4"),
        ("summary", "ok\n\x1b]52;c;cHduZWQ=\x07", "field [scenario] summary: may hold newlines"),
        ("tags", ["a\x07"], "field [scenario] tags[0]: must be one line"),
        ("lesson", "x\x1b.md", "field [scenario] lesson: must be one line"),
    ],
)
def test_control_characters_are_refused_in_metadata(field: str, value: Any, expected: str) -> None:
    """Issue 8 item 2: text that reaches a terminal cannot carry escape sequences."""
    document = good_document()
    document["scenario"][field] = value
    assert expected in problems_of(to_toml(document))


@pytest.mark.parametrize("field", ["say", "ask"])
def test_control_characters_are_refused_in_narration(field: str) -> None:
    document = good_document()
    document["step"][4][field] = "line one\n\tindented\r\x1b[2J"
    assert (
        f"step 5 (epoll_wait), field {field}: may hold newlines and tabs but no other control "
        "characters, found a carriage return (U+000D) at character 19"
    ) in problems_of(to_toml(document))
    document["step"][4][field] = "line one\n\tindented, with a tab"
    parse_scenario(to_toml(document))


def test_a_bad_name_in_as_is_one_message_in_plain_words() -> None:
    """Issue 8 item 13: pydantic's union branches leaked as two messages with internal names."""
    document = good_document()
    document["step"][0]["as"] = ["1a", "b"]
    document["step"][1]["as"] = "9"
    document["step"][2]["as"] = 3
    message = problems_of(to_toml(document))
    assert "function-plain" not in message
    assert message.splitlines() == [
        "x.toml:12: step 1 (socketpair), field as: '1a' is not a usable name: use letters, "
        "digits and '_', not starting with a digit, at most 32 characters",
        "x.toml:17: step 2 (epoll_create), field as: '9' is not a usable name: use letters, "
        "digits and '_', not starting with a digit, at most 32 characters",
        'x.toml:23: step 3 (epoll_ctl), field as: expected a name ("ep") or two (["a", "b"]), '
        "got an integer (3)",
    ]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_timeouts_are_refused(value: str) -> None:
    """Issue 8 item 13: nan slipped past the cap and printed as invalid JSON."""
    text = f'[scenario]\ntitle = "t"\n\n[[step]]\ndo = "select"\nargs = {{ timeout_s = {value} }}\n'
    assert problems_of(text) == (
        f"x.toml:6: step 1 (select), field args.timeout_s: {value} is not a number of seconds; "
        'write "forever" to wait forever'
    )


def test_deep_nesting_is_one_message_not_a_recursion_error(tmp_path: Path) -> None:
    """Issue 8 item 6: 1 KB of `[` gave a RecursionError traceback."""
    head = '[scenario]\ntitle = "t"\n\n[[step]]\ndo = "socketpair"\nexpect = '
    deep = tmp_path / "deep.toml"
    deep.write_text(head + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(deep)
    too_deep = "values are nested too deeply (at most 16 levels of [ ] and { })"
    assert str(info.value) == f"{deep}: {too_deep}"
    # Deep enough for pydantic to choke, shallow enough for tomllib: located by line.
    assert problems_of(head + "[" * 100 + "]" * 100 + "\n") == f"x.toml:6: {too_deep}"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Issue 8 item 13: a BOM (Windows editors write one) was "Invalid statement"."""
    path = tmp_path / "bom.toml"
    path.write_text(to_toml(good_document()), encoding="utf-8-sig")
    assert load_scenario(path).scenario.title == "Edge-triggered stall"


def test_symlink_loops_and_dangling_links_say_so(tmp_path: Path) -> None:
    """Issue 8 item 13: a symlink loop was reported as "no such file"."""
    (tmp_path / "a.toml").symlink_to("b.toml")
    (tmp_path / "b.toml").symlink_to("a.toml")
    (tmp_path / "gone.toml").symlink_to("nowhere.toml")
    with pytest.raises(ScenarioError, match=r"a\.toml: is a symbolic link loop"):
        load_scenario(tmp_path / "a.toml")
    with pytest.raises(ScenarioError, match=r"gone\.toml: is a symbolic link to a missing file"):
        load_scenario(tmp_path / "gone.toml")


def _with_lesson(folder: Path, lesson: str, name: str = "with-lesson.toml") -> Path:
    document = good_document()
    document["scenario"]["lesson"] = lesson
    path = folder / name
    path.write_text(to_toml(document))
    return path


def test_a_lesson_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    """Issue 8 item 4: a lesson linking to /etc/shadow was followed and displayed."""
    outside = tmp_path / "secret.txt"
    outside.write_text("root:$6$hash\n")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "lesson.md").symlink_to(outside)
    (folder / "sub").symlink_to(tmp_path)
    (folder / "inside.md").write_text("# Inside\n")
    (folder / "alias.md").symlink_to("inside.md")
    path = _with_lesson(folder, "lesson.md")
    via_folder = _with_lesson(folder, "sub/secret.txt", "via-folder.toml")
    status, out, err = run_cli("validate", str(path), str(via_folder))
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"{path}:6: field [scenario] lesson: lesson file {folder}/lesson.md is a link to "
        f"{outside}, outside {folder}; a lesson must stay inside the scenario's folder",
        f"{via_folder}:6: field [scenario] lesson: lesson file {folder}/sub/secret.txt is a link "
        f"to {outside}, outside {folder}; a lesson must stay inside the scenario's folder",
    ]
    assert "root:" not in err
    # A link that stays inside the folder is fine.
    assert run_cli("validate", str(_with_lesson(folder, "alias.md")))[0] == 0


def test_a_huge_lesson_is_refused_unread(tmp_path: Path) -> None:
    """Issue 8 item 4: a 100 MB lesson was read whole (1.65 GB RSS and a hang)."""
    with (tmp_path / "huge.md").open("wb") as f:
        f.truncate(100 << 20)  # sparse: 100 MB on paper, nothing on disk
    path = _with_lesson(tmp_path, "huge.md")
    status, _, err = run_cli("validate", str(path))
    assert status == 1
    assert err == (
        f"{path}:6: field [scenario] lesson: lesson file {tmp_path}/huge.md is 104857600 bytes; "
        "lessons are capped at 1048576 bytes\n"
    )


def test_a_lesson_must_be_plain_text(tmp_path: Path) -> None:
    (tmp_path / "title.md").write_text("# Lesson\n\nSee \x1b]8;;http://evil\x07here\x1b]8;;\x07\n")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00")
    os.mkfifo(tmp_path / "fifo.md")  # would block a reader forever
    path = _with_lesson(tmp_path, "title.md")
    assert run_cli("validate", str(path))[2] == (
        f"{path}:6: field [scenario] lesson: lesson file {tmp_path}/title.md:3:5: may hold "
        "newlines and tabs but no other control characters, found an escape (U+001B)\n"
    )
    assert "is not UTF-8 text" in run_cli("validate", str(_with_lesson(tmp_path, "binary.md")))[2]
    assert (
        "fifo.md is not a regular file"
        in run_cli("validate", str(_with_lesson(tmp_path, "fifo.md")))[2]
    )


@given(
    st.one_of(
        st.text(alphabet="fdx019_A-é ", max_size=6),
        st.lists(st.text(alphabet="fdx019_A-", max_size=4), min_size=0, max_size=3),
        st.integers(),
    )
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_an_as_value_is_accepted_or_refused_as_the_worded_checks_say(value: Any) -> None:
    """``as``'s fast path (one match a name) accepts exactly what `_check_name` accepts, with
    the same value; anything refused gets the worded message."""
    from simulator.scenario.format import _check_as, _check_name

    def worded(v: Any) -> Any:
        if isinstance(v, list):
            if len(v) != 2:
                raise ValueError
            names = [_check_name(n) for n in v]
            if names[0] == names[1]:
                raise ValueError
            return names
        return _check_name(v)

    try:
        expected = worded(value)
    except ValueError:
        with pytest.raises(ValueError):
            _check_as(value)
        return
    assert _check_as(value) == expected
