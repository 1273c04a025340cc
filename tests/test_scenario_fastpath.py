"""The loader's table-by-table validation (`loader.validate_document`) is the whole model's.

`validate_document` checks a well-formed document with the step models of the calls it uses
and falls back to `Scenario.model_validate` for anything else. These tests hold the two to the
same results: every shipped scenario and challenge-free lesson, and documents the fast path
must hand over (a wrong ``do``, a bad value, the ``steps`` spelling of the key).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from simulator.scenario.format import STEP_MODELS, Scenario
from simulator.scenario.loader import (
    _fast_document,
    _Unusual,
    _validate_by_parts,
    deepest,
    validate_document,
)
from simulator.scenario.template import expand, uses_templates
from tests.test_scenario_format import good_document

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


def _same(document: dict[str, Any]) -> None:
    fast = _validate_by_parts(document)
    whole = Scenario.model_validate(document)
    assert fast == whole
    assert fast.model_fields_set == whole.model_fields_set
    assert [type(s) for s in fast.steps] == [type(s) for s in whole.steps]
    assert fast.model_dump(by_alias=True) == whole.model_dump(by_alias=True)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_fast_path_equals_the_whole_model_on_shipped_scenarios(path: Path) -> None:
    document = tomllib.loads(path.read_text())
    if uses_templates(document):  # validated as the loader does: after the expansion
        document = expand(document).document
    _same(document)


def test_fast_path_equals_the_whole_model_without_model_table() -> None:
    document = good_document()
    _same(document)
    del document["model"]
    _same(document)


def test_unusual_documents_go_to_the_whole_model() -> None:
    document = good_document()
    document["steps"] = document.pop("step")  # the field's own name, which the model accepts
    with pytest.raises(_Unusual):
        _validate_by_parts(document)
    assert validate_document(document) == Scenario.model_validate(document)
    document = good_document()
    document["step"][1]["do"] = "epoll_creat"
    with pytest.raises(_Unusual):
        _validate_by_parts(document)


def _errors(document: dict[str, Any]) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        validate_document(document)
    return _plain(caught.value)


def _plain(error: ValidationError) -> list[Any]:
    # The context holds exception objects, which compare by identity; the message says it all.
    return [(e["type"], e["loc"], e["msg"], e["input"]) for e in error.errors()]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["step"][2]["args"].update(events=["IN", "BOGUS"]),
        lambda d: d["step"][0].update(say=7),
        lambda d: d["step"][1].update(do="epoll_creat"),
        lambda d: d["step"][1].pop("do"),
        lambda d: d["scenario"].update(title=""),
        lambda d: d["model"].update(nofile="many"),
        lambda d: d.update(step=[]),
        lambda d: d["step"].append("not a table"),
    ],
)
def test_errors_are_the_whole_models(change: Any) -> None:
    document = good_document()
    change(document)
    with pytest.raises(ValidationError) as whole:
        Scenario.model_validate(document)
    assert _errors(document) == _plain(whole.value)


def test_step_models_are_built_on_first_use() -> None:
    # A fresh interpreter would show none built; here other tests may have built some, so
    # check that building one leaves a model that is complete and validates.
    model = STEP_MODELS["socketpair"]
    step = model.model_validate({"do": "socketpair", "as": ["a", "b"]})
    assert model.__pydantic_complete__
    assert step.names == ["a", "b"]


HOSTILE = sorted((ROOT / "tests" / "hostile" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED + HOSTILE, ids=lambda p: p.name)
def test_fast_toml_reads_what_tomllib_reads(path: Path) -> None:
    """tomli gives tomllib's document, or hands the file to tomllib (which reports)."""
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    fast = _fast_document(text)
    try:
        slow: Any = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        slow = None
    if fast is not None:
        assert repr(fast) == repr(slow)  # repr: nan, which a file may hold, is not == nan
    elif slow is not None:
        assert deepest(slow) is not None  # too deep: reported by the standard path


def test_too_deep_files_take_the_standard_path() -> None:
    text = '[scenario]\ntitle = "x"\n[[step]]\ndo = "close"\nexpect = ' + "[" * 20 + "]" * 20
    assert _fast_document(text) is None
    assert _fast_document("a = [") is None


def test_the_depth_limit_is_exact_at_its_boundary() -> None:
    """`deepest` measures first, then looks for the path: the same path as a single walk."""
    from simulator.scenario.format import MAX_DEPTH
    from simulator.scenario.loader import deepest

    def nested(levels: int) -> object:
        value: object = 1
        for _ in range(levels):
            value = [value]
        return value

    fine = {"scenario": {"title": "t"}, "step": [{"do": "socketpair", "expect": nested(16)}]}
    assert MAX_DEPTH == 16 and deepest(fine) is None
    deep = {"scenario": {"title": "t"}, "step": [{}, {"expect": {"a": nested(16)}}]}
    assert deepest(deep) == ["step", 1, "expect", "a", *[0] * 15]  # 17 levels under the step
    deeper = {"step": [{"expect": nested(17)}]}
    assert deepest(deeper) == ["step", 0, "expect", *[0] * 16]
