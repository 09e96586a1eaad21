"""Compare: one returned value against one expected value, in words a learner understands.

Pure functions on data. A value received from the sandbox is one of the plain forms of
:mod:`.child.wire` (``Returned`` arrays with the type the student used, Python scalars, strings,
containers, ``Opaque`` placeholders for anything else), so nothing here ever runs student code.
The rule and the messages are those of :mod:`autograder.comparison`, which the notebooks' visible
tests use too: this module only reads the wire's values and walks the declared structures.
"""

from __future__ import annotations

import numpy as np

from .. import comparison, i18n
from ..comparison import NUMPY_ARRAY, Finding, largest_error, shape_text
from .child.wire import Opaque, Returned
from .spec import Array, ListOf, Scalar, Tolerance

__all__ = [
    "NUMPY_ARRAY",
    "Finding",
    "StructureError",
    "as_array",
    "compare_array",
    "compare_leaf",
    "compare_scalar",
    "describe",
    "expected_leaves",
    "largest_error",
    "received_leaves",
    "shape_text",
    "within",
]


class StructureError(Exception):
    """The returned value is not laid out as declared (not a tuple, wrong length...)."""


def describe(got) -> str:
    """A short noun phrase for a received value: "a torch.Tensor", "None", "a list of 3 items"."""
    if got is None:
        return "None"
    if isinstance(got, Returned):
        return comparison.describe(got.type, tuple(got.array.shape))
    if isinstance(got, Opaque):
        return i18n._("{a} {type} object").format(a=comparison.article(got.type), type=got.type)
    if isinstance(got, (list, tuple)):
        return comparison.describe(type(got).__name__, length=len(got))
    if isinstance(got, dict):
        return i18n._("a dict with keys {keys}").format(keys=", ".join(map(str, list(got)[:6])))
    return comparison.describe(type(got).__name__)


def type_name(got) -> str:
    """The name of the type the student's value had, as the wire reports it."""
    if got is None:
        return "None"
    if isinstance(got, (Returned, Opaque)):
        return got.type
    return type(got).__name__


def as_array(got) -> np.ndarray | None:
    """The numbers in a received value, whatever container they came in; None if not numbers."""
    if isinstance(got, Returned):
        return got.array
    if isinstance(got, bool | int | float):
        return np.asarray(got)
    if isinstance(got, (list, tuple)) and len(got) <= 100_000:
        items = [as_array(g) for g in got]
        if items and all(i is not None for i in items):
            try:
                return np.array(items)
            except ValueError:
                return None
    return None


def within(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    """Same shape and ``max|got - expected| <= atol + rtol * max|expected|``."""
    return comparison.within(got, expected, tol.atol, tol.rtol)


def compare_array(leaf: Array, got, expected, tol: Tolerance) -> Finding:
    """Check one array the student returned against the expected array."""
    return comparison.compare_array(
        type_name(got),
        describe(got),
        as_array(got),
        expected,
        atol=tol.atol,
        rtol=tol.rtol,
        axes=leaf.axes,
        kind=leaf.kind,
    )


def compare_scalar(leaf: Scalar, got, expected, tol: Tolerance) -> Finding:
    """Check one real number the student returned."""
    return comparison.compare_scalar(
        type_name(got), describe(got), as_array(got), expected, atol=tol.atol, rtol=tol.rtol
    )


# --------------------------------------------------------------------------------------------
# Structures: tuples and dicts of leaves


def expected_leaves(template, value) -> list[tuple]:
    """``[(leaf, expected)]`` for a reference output laid out as ``template``, in order.

    Tuples may nest; dicts map keys to leaves; a :class:`ListOf` expands into one array leaf
    per item of the reference's list, named ``clipped[0]``, ``clipped[1]``...
    """
    if isinstance(template, tuple):
        return [x for t, v in zip(template, value, strict=True) for x in expected_leaves(t, v)]
    if isinstance(template, dict):
        return [(leaf, value[key]) for key, leaf in template.items()]
    if isinstance(template, ListOf):
        return [
            (Array(f"{template.name}[{i}]", template.item_axes), v) for i, v in enumerate(value)
        ]
    return [(template, value)]


def _names(template) -> str:
    return ", ".join(t.name if hasattr(t, "name") else "(...)" for t in template)


def received_leaves(template, got, expected) -> list:
    """The student's values in the order of :func:`expected_leaves` (same template, same
    reference value, which gives the lengths of lists).

    Raises StructureError when a container itself is wrong (not a tuple, wrong length, not a
    dict, a list of the wrong length). A missing dict key gives None for that leaf.
    """
    if isinstance(template, tuple):
        if not isinstance(got, (tuple, list)):
            raise StructureError(
                i18n._("returned {got}, expected a tuple of {n} values ({names})").format(
                    got=describe(got), n=len(template), names=_names(template)
                )
            )
        if len(got) != len(template):
            raise StructureError(
                i18n._("returned {got} values, expected {n}: ({names})").format(
                    got=len(got), n=len(template), names=_names(template)
                )
            )
        return [
            x
            for t, g, e in zip(template, got, expected, strict=True)
            for x in received_leaves(t, g, e)
        ]
    if isinstance(template, dict):
        if not isinstance(got, dict):
            raise StructureError(
                i18n._("returned {got} where a dict with keys {keys} was expected").format(
                    got=describe(got), keys=", ".join(template)
                )
            )
        return [got.get(key) for key in template]
    if isinstance(template, ListOf):
        if not isinstance(got, (list, tuple)):
            raise StructureError(
                i18n._("{name} is {got}, expected a list of {n} arrays").format(
                    name=template.name, got=describe(got), n=len(expected)
                )
            )
        if len(got) != len(expected):
            raise StructureError(
                i18n._("{name} has {got} arrays, expected {n} (one per gradient given)").format(
                    name=template.name, got=len(got), n=len(expected)
                )
            )
        return list(got)
    return [got]


def compare_leaf(leaf, got, expected, tol: Tolerance) -> Finding:
    if isinstance(leaf, Scalar):
        return compare_scalar(leaf, got, expected, tol)
    return compare_array(leaf, got, expected, tol)
