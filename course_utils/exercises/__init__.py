"""Checked exercises: a student's answer is compared with a reference, with a hint on failure.

An exercise cell in a notebook leaves a stub that returns ``None`` (or ``...``); the check
then says "not attempted yet" instead of failing, so the notebook still runs top to bottom.
A wrong answer raises ``AssertionError`` with a message that says what is wrong.

Each exercise's checker is an :class:`Exercise` in a topic module of this package
(``course_utils.exercises.<topic>``), registered in ``REGISTRY`` with the plausible mistakes it
must catch (the lecture's own slips among them) and the message each must give. The notebook
writes the solution out in its solution cell and checks it there (nbval proves the written
solution passes); ``tests/test_exercises.py`` proves, for every registered exercise, that the
checker accepts a right answer, rejects each mistake with its message, and reports "not
attempted" for a stub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _is_unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def check_value(name: str, answer: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-6,
                hint: str = "") -> bool:
    """Check a numeric answer (scalar or array) against the expected value.

    Returns True when right, False when not attempted; raises AssertionError when wrong.
    """
    if _is_unanswered(answer):
        print(f"[{name}] not attempted yet: fill in the cell above and run it again.")
        return False
    got, want = _as_array(answer), _as_array(expected)
    if got.shape != want.shape:
        raise AssertionError(f"[{name}] shape {got.shape}, expected {want.shape}. {hint}".strip())
    if not np.allclose(got, want, atol=atol, rtol=rtol):
        err = float(np.max(np.abs(got - want)))
        raise AssertionError(f"[{name}] not right yet (largest error {err:.3g}). {hint}".strip())
    print(f"[{name}] correct ✓")
    return True


def check_function(name: str, fn: Callable[..., Any] | None, reference: Callable[..., Any],
                   cases: Iterable[tuple], *, atol: float = 1e-6, rtol: float = 1e-6,
                   hint: str = "") -> bool:
    """Check a function against a reference on a list of argument tuples.

    A function that returns None on the first case counts as not attempted.
    """
    if fn is None:
        print(f"[{name}] not attempted yet: fill in the function above and run it again.")
        return False
    for i, args in enumerate(cases):
        got = fn(*args)
        if i == 0 and _is_unanswered(got):
            print(f"[{name}] not attempted yet: your function returns None.")
            return False
        want = reference(*args)
        got_a, want_a = _as_array(got), _as_array(want)
        if got_a.shape != want_a.shape or not np.allclose(got_a, want_a, atol=atol, rtol=rtol):
            raise AssertionError(
                f"[{name}] wrong on test case {i + 1}: got {np.round(got_a, 6).tolist()}"
                f" expected {np.round(want_a, 6).tolist()}. {hint}".strip()
            )
    print(f"[{name}] correct on all test cases ✓")
    return True


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer, and a fragment of the message the checker must give for it."""

    answer: Any
    says: str  # e.g. "sqrt(1 - alpha_bar)": the hint that names what is wrong


@dataclass(frozen=True)
class Exercise:
    """A checked exercise: ``check(answer)`` is True when right, False when not attempted, raises when wrong."""

    name: str
    check: Callable[[Any], bool]
    right: Any  # a right answer (for the unit test; the notebook's solution is written out there)
    mistakes: tuple[Mistake, ...] = field(default_factory=tuple)

    def __call__(self, answer: Any) -> bool:
        return self.check(answer)


#: Every exercise of the course, by name ("08.1 discriminator loss"); filled when a topic module is imported.
REGISTRY: dict[str, Exercise] = {}


def register(name: str, check: Callable[[Any], bool], *, right: Any, mistakes: Iterable[Mistake]) -> Exercise:
    """Register (and return) an exercise; a name may be registered once."""
    if name in REGISTRY:
        raise ValueError(f"exercise {name!r} is registered twice")
    ex = Exercise(name, check, right, tuple(mistakes))
    if not ex.mistakes:
        raise ValueError(f"exercise {name!r} needs at least one plausible mistake that its checker catches")
    REGISTRY[name] = ex
    return ex


def _same_function(fn: Callable[..., Any], other: Callable[..., Any], cases: Iterable[tuple], *,
                   atol: float, rtol: float) -> bool:
    """Whether ``fn`` gives what ``other`` gives on every case (shapes included)."""
    try:
        for args in cases:
            a, b = _as_array(fn(*args)), _as_array(other(*args))
            if a.shape != b.shape or not np.allclose(a, b, atol=atol, rtol=rtol):
                return False
    except Exception:  # a function that fails on a case is not this mistake
        return False
    return True


def function_exercise(name: str, reference: Callable[..., Any], cases: list[tuple], *, right: Any, hint: str,
                      mistakes: Iterable[tuple[Callable[..., Any], str]], atol: float = 1e-6,
                      rtol: float = 1e-6) -> Exercise:
    """Register an exercise whose answer is a function, checked against ``reference`` on ``cases``.

    A wrong answer that behaves like one of the ``mistakes`` (function, diagnosis) gets that diagnosis
    appended to the checker's message.
    """
    mistakes = list(mistakes)

    def check(fn: Callable[..., Any] | None) -> bool:
        try:
            return check_function(name, fn, reference, cases, atol=atol, rtol=rtol, hint=hint)
        except AssertionError as err:
            for wrong, says in mistakes:
                if _same_function(fn, wrong, cases, atol=atol, rtol=rtol):
                    raise AssertionError(f"{err} Diagnosis: {says}") from None
            raise

    return register(name, check, right=right, mistakes=[Mistake(fn, says=says) for fn, says in mistakes])
