"""JSON text that every JSON parser accepts, for ``--json`` output and recordings.

Python's `json.dumps` writes the non-finite floats a TOML file may hold (``nan``, ``inf``,
``-inf``, for instance as a ``timeout_s``) as the bare words ``NaN``, ``Infinity`` and
``-Infinity``, which are not JSON: ``jq``, JavaScript's ``JSON.parse`` and most libraries
reject the whole line. `dumps` writes them as the *strings* ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` instead -- the same spelling, so a reader still sees which value it was -- and
refuses (``allow_nan=False``) anything it did not convert.

>>> dumps({"timeout_s": float("-inf"), "n": [1.5, float("nan")]})
'{"timeout_s": "-Infinity", "n": [1.5, "NaN"]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

#: How each non-finite float is written.
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def finite(value: Any) -> Any:
    """`value` with every non-finite float (in lists, tuples and dict values) replaced by its
    string spelling; O(size of value)."""
    if isinstance(value, float) and not math.isfinite(value):
        return NON_FINITE[repr(value)]
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)``, with non-finite floats as strings (see the module)."""
    return json.dumps(finite(value), allow_nan=False, **options)
