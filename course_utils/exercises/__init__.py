"""Checked exercises: a student's function is run on fixed test cases and compared with expected outputs.

Each exercise is numbered after its notebook, "Exercise 07.1 — the KL term": the notebook's heading,
the checker's output and the site's contents show the same string. In a notebook::

    from course_utils.exercises import neural_models as ex
    ex.kl_term(kl_term)        # ✓ / … not attempted / ✗ with a diagnosis
    ex.kl_term.hint()          # the next hint; the last one is the formula

In the repository (the instructor's copy) each topic module (``graphical_models``, ``neural_models``,
``diffusion``, ``guidance``, ``text_to_image``, ``video``) registers its exercises with
:func:`exercise`: a reference implementation written independently of the notebook's solution (a
library, brute force, a loop, autograd), the test cases, a right answer, the plausible mistakes it
must catch (the lecture's own slips among them) with the diagnosis each gets, and the hints. The
reference computes a :class:`~course_utils.exercises.checking.Record` (expected outputs, each
mistake's outputs), and the same :class:`~course_utils.exercises.checking.Checker` that a student
runs checks against it, strictly: a wrong solution raises, so nbval fails on it.

``make student`` (tools/student.py) writes those records as data into the student's copy and
replaces each topic module by one line per exercise that loads its data: what a student receives
holds no code that computes an answer. ``tests/test_exercises.py`` proves, for every registered
exercise and on the stored data, that a right answer passes, each mistake gets its diagnosis, and a
stub is "not attempted".
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from course_utils.exercises.checking import Checker, Record, decode, encode

#: The modules of this package that hold exercises (the rest is the checking machinery).
NOT_TOPICS = {"checking"}


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer, and the diagnosis the checker gives when an answer behaves like it."""

    answer: Callable[..., Any]
    says: str


class Exercise:
    """A registered exercise of the instructor's copy: its reference computes the record on first use."""

    def __init__(self, number: str, title: str, reference: Callable[..., Any],
                 cases: Sequence[tuple] | Callable[[], Sequence[tuple]], *, right: Callable[..., Any],
                 mistakes: Iterable[Mistake], hints: Sequence[str], atol: float, rtol: float, module: str):
        self.number, self.title, self.module = number, title, module
        self.reference, self.right, self.mistakes = reference, right, tuple(mistakes)
        self.hints, self.atol, self.rtol = tuple(hints), atol, rtol
        self._cases = cases
        self.checker = Checker(self.record, strict=True)
        self._record: Record | None = None

    @property
    def name(self) -> str:
        """``Exercise 07.1 — the KL term``."""
        return f"Exercise {self.number} — {self.title}"

    def cases(self) -> list[tuple]:
        return [tuple(c) for c in (self._cases() if callable(self._cases) else self._cases)]

    def attr(self) -> str:
        """The name the exercise has in its topic module (``kl_term``: ``ex.kl_term(...)``)."""
        module = importlib.import_module(self.module)
        for name, obj in vars(module).items():
            if obj is self:
                return name
        raise LookupError(f"{self.name} is not a module-level name of {self.module}")

    def record(self) -> Record:
        """Expected outputs and each mistake's outputs on the cases, computed by the reference (once)."""
        if self._record is not None:
            return self._record
        cases = [encode(c, f"{self.name}, case {i + 1}") for i, c in enumerate(self.cases())]
        expected = [encode(self.reference(*decode(c)), f"{self.name}, expected output {i + 1}")
                    for i, c in enumerate(cases)]
        mistakes = []
        for m in self.mistakes:
            outputs = []
            for i, c in enumerate(cases):
                try:
                    outputs.append(encode(m.answer(*decode(c)), f"{self.name}, mistake output {i + 1}"))
                except Exception as err:  # a mistake that cannot run a case: it matches no answer there
                    outputs.append({"__error__": f"{type(err).__name__}: {err}"})
            mistakes.append((m.says, outputs))
        self._record = Record(self.number, self.title, self.attr(), cases, expected, mistakes, self.hints,
                              self.atol, self.rtol)
        return self._record

    def __call__(self, answer: Callable[..., Any] | None) -> bool:
        __tracebackhide__ = True
        return self.checker(answer)

    def hint(self) -> None:
        """Print the next hint (the last one is the formula)."""
        self.checker.hint()

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: Every exercise of the course by number ("08.1"); filled when a topic module is imported.
REGISTRY: dict[str, Exercise] = {}


def exercise(number: str, title: str, reference: Callable[..., Any],
             cases: Sequence[tuple] | Callable[[], Sequence[tuple]], *, right: Callable[..., Any],
             mistakes: Iterable[tuple[Callable[..., Any], str]], hints: str | Sequence[str], module: str,
             atol: float = 1e-6, rtol: float = 1e-6) -> Exercise:
    """Register (and return) exercise ``number``, checked against ``reference`` on ``cases``.

    ``mistakes``: (a plausible wrong function, its diagnosis): the diagnosis says what is wrong, not the
    formula. ``hints``: one or more, from a nudge to the formula, given one per ``hint()`` call.
    """
    if number in REGISTRY:
        raise ValueError(f"exercise {number!r} is registered twice")
    hints = (hints,) if isinstance(hints, str) else tuple(hints)
    mistakes = [Mistake(fn, says) for fn, says in mistakes]
    if not mistakes:
        raise ValueError(f"exercise {number!r} needs at least one plausible mistake that its checker catches")
    if not hints:
        raise ValueError(f"exercise {number!r} needs at least one hint")
    ex = Exercise(number, title, reference, cases, right=right, mistakes=mistakes, hints=hints, atol=atol,
                  rtol=rtol, module=module)
    REGISTRY[number] = ex
    return ex


def topics() -> list[str]:
    """The topic modules of this package (``course_utils.exercises.<topic>``), imported."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in NOT_TOPICS]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, by number, in order (all topic modules imported)."""
    topics()
    return dict(sorted(REGISTRY.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


__all__ = ["Checker", "Exercise", "Mistake", "REGISTRY", "Record", "all_exercises", "exercise", "topics"]
