"""Exercise checkers that hold no answer: test inputs, expected outputs, the registered mistakes' outputs.

A :class:`Record` is all that a checker knows about an exercise: its number and title, the test
cases (argument tuples), the expected output of each case, the output of each registered mistake on
each case with the diagnosis that names it, and the hints, from a nudge to the formula. The
instructor's reference implementations (``course_utils/exercises/<topic>.py`` in the repository)
compute these numbers; ``make student`` writes them as data (``data/NN.k.pt``, loaded with
``torch.load(weights_only=True)``) into the student's copy, where no code computes an answer.

A :class:`Checker` runs a student's function on the cases and says, in one short block:

- ``✓ Exercise 07.1 — the KL term: correct on all 4 test cases.``
- ``… Exercise 07.1 — the KL term: not attempted yet ...`` for a stub (a function returning None);
- ``✗ Exercise 07.1 — the KL term: ...`` with the first wrong case (its inputs, got vs expected)
  and, when the answer behaves like a registered mistake, that mistake's diagnosis. The formula is
  never in it: ``ex.kl_term.hint()`` gives the hints one at a time.

A student's checker (``strict=False``) prints and returns False for a wrong answer, so Run All goes
on; the instructor's (``strict=True``, the repository's) raises ``AssertionError`` with the same
short text, so the instructor's notebook and CI stop on a wrong solution. Under nbgrader's autograde
(``NBGRADER_EXECUTION`` set) every checker raises: nbgrader scores a test cell by whether it fails.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Version of the data layout written by :func:`save_record`.
FORMAT = 1
#: Where a student's copy keeps its exercise data (one file per exercise, ``NN.k.pt``).
DATA = Path(__file__).resolve().parent / "data"
#: Classes the data may rebuild: the course's own value types, never anything from the exercises package.
_ALLOWED_MODULES = "course_utils."
_FORBIDDEN_MODULES = "course_utils.exercises"


# ----------------------------------------------------------------------------- stored values
def encode(value: Any, where: str = "value") -> Any:
    """``value`` as tensors, numbers, strings, lists, tuples and tagged dicts: what ``weights_only`` loads.

    numpy arrays and scalars, dicts (any keys), sets and the course's own objects (a ``Factor``, a
    ``BayesianNetwork``, a ``NoiseSchedule``: their attributes) are tagged so that :func:`decode`
    rebuilds them. Anything else is a ``TypeError`` that names where it was found.
    """
    import torch

    if value is None or type(value) in (bool, int, float, str):  # exact: numpy's float64 is a float too
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: a numpy array of dtype {value.dtype} cannot be stored (numbers only)")
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value).copy()),
                "writeable": bool(value.flags.writeable)}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"__npscalar__": torch.from_numpy(np.asarray(value).reshape(1).copy())}
    if type(value) is list:
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value) is tuple:
        return tuple(encode(v, f"{where}[{i}]") for i, v in enumerate(value))
    if type(value) is dict:
        return {"__dict__": [(encode(k, f"{where} key"), encode(v, f"{where}[{k!r}]")) for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": [encode(v, where) for v in value], "frozen": isinstance(value, frozenset)}
    cls = type(value)
    if cls.__module__.startswith(_ALLOWED_MODULES) and not cls.__module__.startswith(_FORBIDDEN_MODULES):
        state: dict[str, Any] = {}
        if isinstance(value, tuple):  # a tuple subclass (a cache key): its items; a cached hash is per process
            state["__items__"] = encode(tuple(value), where)
        else:
            for klass in cls.__mro__:
                for slot in getattr(klass, "__slots__", ()):
                    if hasattr(value, slot):
                        state[slot] = encode(getattr(value, slot), f"{where}.{slot}")
            for name, attr in getattr(value, "__dict__", {}).items():
                state[name] = encode(attr, f"{where}.{name}")
        return {"__object__": f"{cls.__module__}:{cls.__qualname__}", "state": state}
    raise TypeError(f"{where}: a {cls.__module__}.{cls.__qualname__} cannot be stored as exercise data "
                    "(tensors, numpy arrays, numbers, strings, lists, tuples, dicts, sets and course_utils "
                    "objects can)")


def _class(path: str) -> type:
    module, _, qualname = path.partition(":")
    if not module.startswith(_ALLOWED_MODULES) or module.startswith(_FORBIDDEN_MODULES):
        raise ValueError(f"exercise data names the class {path!r}: only course_utils classes may be rebuilt")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"exercise data names {path!r}, which is not a class")
    return obj


def decode(value: Any) -> Any:
    """The value :func:`encode` stored, rebuilt as a fresh copy (an answer that writes into it changes nothing)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        array = value["__ndarray__"].numpy().copy()
        array.setflags(write=value["writeable"])
        return array
    if "__npscalar__" in value:
        return value["__npscalar__"].numpy()[0]
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    if "__set__" in value:
        items = [decode(v) for v in value["__set__"]]
        return frozenset(items) if value["frozen"] else set(items)
    if "__object__" in value:
        cls, state = _class(value["__object__"]), value["state"]
        if "__items__" in state:
            return tuple.__new__(cls, decode(state["__items__"]))
        obj = object.__new__(cls)
        for name, attr in state.items():
            object.__setattr__(obj, name, decode(attr))
        return obj
    if "__error__" in value:
        return Failed(value["__error__"])
    raise ValueError(f"exercise data holds an unknown tagged value with keys {sorted(value)}")


@dataclass(frozen=True)
class Failed:
    """What a registered mistake gave on a case where it raised (it matches no answer there)."""

    error: str


# ----------------------------------------------------------------------------- the record
@dataclass(frozen=True)
class Record:
    """Everything a checker knows about one exercise: numbers and messages, no code."""

    number: str                      # "07.1": notebook 07, its first exercise
    title: str                       # "the KL term"
    attr: str                        # the checker's name in its module: ex.kl_term
    cases: list                      # encoded argument tuples
    expected: list                   # encoded right output of each case
    mistakes: list                   # (diagnosis, encoded output of each case) per registered mistake
    hints: tuple[str, ...]           # from a nudge to the formula, one per hint() call
    atol: float = 1e-6
    rtol: float = 1e-6

    @property
    def name(self) -> str:
        """``Exercise 07.1 — the KL term``: the string the notebook's heading and the site's contents show."""
        return f"Exercise {self.number} — {self.title}"


def save_record(record: Record, path: Path) -> None:
    """Write ``record`` to ``path`` (torch.save of plain values and tensors)."""
    import torch

    data = {"format": FORMAT, "number": record.number, "title": record.title, "attr": record.attr,
            "cases": record.cases, "expected": record.expected,
            "mistakes": [(says, outputs) for says, outputs in record.mistakes],
            "hints": list(record.hints), "atol": float(record.atol), "rtol": float(record.rtol)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, path)


def load_record(path: Path) -> Record:
    """Read a record written by :func:`save_record` (``torch.load(weights_only=True)``: data, never code)."""
    import torch

    data = torch.load(path, weights_only=True)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: exercise data of format {data.get('format')!r}, this checker reads {FORMAT}: "
                         "rebuild the student copy with `make student`")
    return Record(data["number"], data["title"], data["attr"], data["cases"], data["expected"],
                  [tuple(m) for m in data["mistakes"]], tuple(data["hints"]), data["atol"], data["rtol"])


# ----------------------------------------------------------------------------- comparing
def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _shown(a: np.ndarray) -> str:
    return str(np.round(a, 6).tolist())


def difference(got: Any, want: Any, atol: float, rtol: float) -> str | None:
    """None when ``got`` matches ``want`` within the tolerances, else what differs, in a few words.

    A factor (an object with ``variables`` and ``permute``) is compared variable by variable.
    """
    if isinstance(want, Failed):
        return want.error
    if hasattr(want, "variables") and hasattr(want, "permute"):
        if not (hasattr(got, "variables") and hasattr(got, "permute")):
            return f"returned a {type(got).__name__}, expected a {type(want).__name__}"
        if set(got.variables) != set(want.variables):
            return f"the result has variables {sorted(got.variables)}, expected {sorted(want.variables)}"
        got, want = got.permute(want.variables).values, want.values
    try:
        got_a = _as_array(got)
    except (TypeError, ValueError):
        return f"returned {type(got).__name__} {got!r:.60}, expected numbers"
    want_a = _as_array(want)
    if got_a.shape != want_a.shape:
        return f"shape {got_a.shape}, expected {want_a.shape}"
    if np.allclose(got_a, want_a, atol=atol, rtol=rtol):
        return None
    if want_a.size <= 8:
        return f"got {_shown(got_a)}, expected {_shown(want_a)}"
    with np.errstate(invalid="ignore"):
        err = np.abs(got_a - want_a)
    where = np.unravel_index(int(np.nanargmax(np.where(np.isnan(err), np.inf, err))), err.shape)
    return (f"largest error {float(np.nanmax(np.where(np.isnan(err), np.inf, err))):.3g} at index "
            f"{tuple(int(i) for i in where)}: got {got_a[where]:.6g}, expected {want_a[where]:.6g}")


def _describe(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        kind = "tensor" if hasattr(value, "detach") else "array"
        return f"{kind} {'×'.join(str(s) for s in value.shape) or 'scalar'}"
    if isinstance(value, (bool, int, float, np.generic)):
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def _arguments(fn: Callable[..., Any], args: tuple) -> str:
    try:
        import inspect

        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    names += [f"argument {i + 1}" for i in range(len(names), len(args))]
    return ", ".join(f"{n}: {_describe(a)}" for n, a in zip(names, args))


def _unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _where_it_failed(err: BaseException) -> str:
    """The last line of the student's own code in a traceback (not the library's, not ours)."""
    libraries = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    ours = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not str(Path(f.filename).resolve()).startswith((ours, *libraries))
              and "-packages" not in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    code = f" ({f.line.strip()})" if f.line else ""
    return f" in {f.name}, line {f.lineno}{code}"


# ----------------------------------------------------------------------------- the checker
class ExerciseFailed(AssertionError):
    """A wrong or missing answer, where the checker is strict (the instructor's, or nbgrader's autograde)."""


@dataclass(eq=False)
class Checker:
    """Checks an answer against a :class:`Record`; ``hint()`` gives the hints one at a time."""

    source: Callable[[], Record]      # the record, loaded or computed on first use
    strict: bool = False              # raise on a wrong or missing answer (the instructor's copy)
    _record: Record | None = field(default=None, repr=False)
    _hints_given: int = field(default=0, repr=False)

    @property
    def record(self) -> Record:
        if self._record is None:
            self._record = self.source()
        return self._record

    @property
    def name(self) -> str:
        return self.record.name

    def __call__(self, answer: Callable[..., Any] | None) -> bool:
        """True when ``answer`` is right on every case; False (said in one short block) otherwise."""
        __tracebackhide__ = True  # IPython and pytest: a strict failure shows the message, not our frames
        rec = self.record
        if _unanswered(answer):
            return self._not_attempted("fill in the function above, run its cell, then this one again")
        if not callable(answer):
            return self._wrong(f"expected a function, got a {type(answer).__name__}", None)
        n = len(rec.cases)
        outputs: list[Any] = []
        first_wrong: tuple[int, str] | None = None
        for i, case in enumerate(rec.cases):
            args = decode(case)
            try:
                got = answer(*args)
            except Exception as err:  # the student's error, reported without a traceback through the checker
                if first_wrong is not None:
                    break  # already wrong on an earlier case: that is the first thing to fix
                return self._wrong(f"your function raised {type(err).__name__}{_where_it_failed(err)} on test "
                                   f"case {i + 1} of {n} ({_arguments(answer, args)}): {err}", None, ran=False)
            if i == 0 and _unanswered(got):
                return self._not_attempted("your function returns None: write its body, run its cell, then "
                                           "this one again")
            outputs.append(got)
            if first_wrong is None:
                problem = difference(got, decode(rec.expected[i]), rec.atol, rec.rtol)
                if problem is not None:
                    first_wrong = (i, problem)
        if first_wrong is not None:
            i, problem = first_wrong
            where = f"test case {i + 1} of {n} ({_arguments(answer, decode(rec.cases[i]))})"
            return self._wrong(f"wrong on {where}: {problem}.", self._diagnosis(outputs))
        self._say(f"✓ {rec.name}: correct on all {n} test cases.")
        return True

    def _diagnosis(self, outputs: list[Any]) -> str | None:
        """The message of the first registered mistake that gives what the answer gave on every case it ran."""
        rec = self.record
        for says, theirs in rec.mistakes:
            same = [difference(got, decode(out), rec.atol, rec.rtol) is None
                    for got, out in zip(outputs, theirs) if not isinstance(out, dict) or "__error__" not in out]
            if same and all(same):
                return says
        return None

    def hint(self) -> None:
        """Print the next hint (the last one is the formula); each call goes one step further."""
        rec = self.record
        k = min(self._hints_given, len(rec.hints) - 1)
        self._hints_given = k + 1
        more = (f" (ex.{rec.attr}.hint() again for hint {k + 2})" if k + 1 < len(rec.hints) else "")
        print(f"※ {rec.name}, hint {k + 1} of {len(rec.hints)}: {rec.hints[k]}{more}")

    # -- saying it
    def _strict(self) -> bool:
        return self.strict or bool(os.environ.get("NBGRADER_EXECUTION"))

    def _say(self, text: str) -> None:
        print(text)

    def _not_attempted(self, what: str) -> bool:
        __tracebackhide__ = True
        text = f"… {self.record.name}: not attempted yet: {what}."
        if self._strict():
            raise ExerciseFailed(text)
        self._say(text)
        return False

    def _wrong(self, what: str, diagnosis: str | None, ran: bool = True) -> bool:
        __tracebackhide__ = True
        rec = self.record
        lines = [f"✗ {rec.name}: {what}"]
        if diagnosis:
            lines.append(f"  Diagnosis: {diagnosis}.")
        elif ran:
            lines.append("  This is not one of the mistakes the checker knows: compare your result with the "
                         "expected one above.")
        lines.append(f"  A hint: ex.{rec.attr}.hint()")
        text = "\n".join(lines)
        if self._strict():
            raise ExerciseFailed(text)
        self._say(text)
        return False

    def __repr__(self) -> str:
        return f"<checker of {self.record.name}>"


def load(number: str, *, strict: bool = False, folder: Path | None = None) -> Checker:
    """The checker of exercise ``number`` ("07.1") from the student's data (read on first use)."""
    path = (folder or DATA) / f"{number}.pt"
    return Checker(lambda: load_record(path), strict=strict)
