"""Every registered exercise, checked the way a student's copy checks it: from stored data.

The records (test inputs, expected outputs, each mistake's outputs) are computed by the instructor's
references, written with ``save_record`` and read back with ``load_record`` (``weights_only``), and a
student's (lenient) checker built on the loaded data must: pass a right answer; give each registered
mistake its own diagnosis and no formula; report a stub as not attempted; go on (return False, no
exception) on any wrong answer, while the instructor's (strict) checker and nbgrader's autograde raise.
"""

import re

import numpy as np
import pytest
import torch

from course_utils.exercises import all_exercises
from course_utils.exercises.checking import Checker, ExerciseFailed, decode, encode, load_record, save_record

EXERCISES = all_exercises()
NUMBERS = list(EXERCISES)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """number -> a student's checker on the record written to disk and read back."""
    folder = tmp_path_factory.mktemp("data")
    out = {}
    for number, ex in EXERCISES.items():
        save_record(ex.record(), folder / f"{number}.pt")
        out[number] = Checker(lambda p=folder / f"{number}.pt": load_record(p), strict=False)
    return out


@pytest.fixture(autouse=True)
def _not_under_nbgrader(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_every_notebook_numbers_its_exercises_from_1():
    by_notebook = {}
    for number in NUMBERS:
        nb, k = number.split(".")
        by_notebook.setdefault(nb, []).append(int(k))
    assert all(ks == list(range(1, len(ks) + 1)) for ks in by_notebook.values()), by_notebook
    # the title is the same string in the notebook, the checker and the site: nothing that Sphinx's smart
    # quotes or dashes would turn into another character
    assert not [ex.title for ex in EXERCISES.values() if re.search(r"['\"`]|--|\.\.\.", ex.title)]


@pytest.mark.parametrize("number", NUMBERS)
def test_right_answer_passes(number, stored, capsys):
    assert stored[number](EXERCISES[number].right) is True
    assert capsys.readouterr().out.startswith(f"✓ {EXERCISES[number].name}: correct on all")


@pytest.mark.parametrize("number", NUMBERS)
def test_each_mistake_gets_its_own_diagnosis_and_run_all_goes_on(number, stored, capsys):
    ex = EXERCISES[number]
    for mistake in ex.mistakes:
        assert stored[number](mistake.answer) is False  # no exception: the student's Run All goes on
        said = capsys.readouterr().out
        assert said.startswith(f"✗ {ex.name}: wrong on test case"), said
        assert f"Diagnosis: {mistake.says}" in said, f"{number}: {said!r} lacks {mistake.says!r}"
        assert ex.hints[-1] not in said, f"{number}: the first answer to a mistake gives the formula away"
        assert "Traceback" not in said and len(said.splitlines()) <= 4


@pytest.mark.parametrize("number", NUMBERS)
def test_a_stub_is_not_attempted(number, stored, capsys):
    assert stored[number](None) is False
    assert stored[number](lambda *args: None) is False
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 2 and all(s.startswith(f"… {EXERCISES[number].name}: not attempted yet") for s in said)


@pytest.mark.parametrize("number", NUMBERS)
def test_an_unknown_wrong_answer_gets_the_case_not_the_formula(number, stored, capsys):
    """A wrong answer that is none of the registered mistakes: the failing case, got vs expected, no formula."""
    ex = EXERCISES[number]

    def off(*args):  # the right answer, shifted: wrong on every case, and like no registered mistake
        got = ex.right(*args)
        return tuple(np.asarray(g, dtype=float) + 0.5 for g in got) if isinstance(got, tuple) else \
            np.asarray(got, dtype=float) + 0.5 if not hasattr(got, "variables") else got.marginalize(got.variables[:1])

    assert stored[number](off) is False
    said = capsys.readouterr().out
    assert "wrong on test case 1 of" in said and "not one of the mistakes" in said, said
    assert all(h not in said for h in ex.hints), f"{number}: a hint was given unasked"


def test_hints_come_one_step_at_a_time(stored, capsys):
    cfg = stored["12.3"]
    assert len(EXERCISES["12.3"].hints) == 2
    cfg.hint()
    first = capsys.readouterr().out
    cfg.hint()
    second = capsys.readouterr().out
    assert first.startswith("※ Exercise 12.3 — the classifier-free combination, hint 1 of 2")
    assert "(1 + w)" not in first and "(1 + w)" in second  # the formula only at the second step
    cfg.hint()
    assert capsys.readouterr().out == second  # and it stays there


def test_the_lectures_and_the_issues_slips_are_registered(stored, capsys):
    """12.3 with (1 − w), and 07.2 with the lecture's ½·exp(logvar): their own diagnoses, formula-free."""
    eps_c, eps_u = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    for wrong in (lambda c, u, w: (1 - w) * c + w * u, lambda c, u, w: (1 - w) * c - w * u):
        assert not torch.allclose(wrong(eps_c, eps_u, 0.5), (1.5 * eps_c - 0.5 * eps_u))
        assert stored["12.3"](wrong) is False
        said = capsys.readouterr().out
        assert "Diagnosis:" in said and "(1 + w)" not in said, said
    assert stored["07.2"](lambda mu, logvar, eps: mu + 0.5 * torch.exp(logvar) * eps) is False
    said = capsys.readouterr().out
    assert "lecture's slip" in said and "exp(½·logvar)" not in said and "0.5 * logvar" not in said, said


def test_an_answer_that_raises_is_reported_in_two_lines_without_a_traceback(stored, capsys):
    def kl_term(mu, logvar):
        return mu.undefined_method()

    assert stored["07.1"](kl_term) is False
    said = capsys.readouterr().out
    assert said.startswith("✗ Exercise 07.1 — the KL term: your function raised AttributeError in kl_term")
    assert "mu.undefined_method()" in said and "Traceback" not in said


def test_the_instructors_checker_and_nbgrader_raise(stored, monkeypatch, capsys):
    wrong = EXERCISES["07.1"].mistakes[0].answer
    with pytest.raises(ExerciseFailed, match="Diagnosis: the sign"):
        EXERCISES["07.1"](wrong)  # the repository's copy: strict, so nbval fails on a wrong solution
    with pytest.raises(ExerciseFailed, match="not attempted"):
        EXERCISES["07.1"](None)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ExerciseFailed):
        stored["07.1"](wrong)  # a student's copy under nbgrader's autograde: the test cell fails, 0 points
    with pytest.raises(ExerciseFailed):
        stored["07.1"](None)
    assert stored["07.1"](EXERCISES["07.1"].right) is True


@pytest.mark.parametrize("number", NUMBERS)
def test_each_mistake_differs_from_the_right_answer_on_some_case(number):
    rec = EXERCISES[number].record()
    from course_utils.exercises.checking import difference

    for says, outputs in rec.mistakes:
        assert any(difference(decode(o), decode(e), rec.atol, rec.rtol) is not None
                   for o, e in zip(outputs, rec.expected)), f"{number}: {says!r} gives the right outputs"


def _leaves(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_stored_data_is_numbers_and_text_only(tmp_path):
    """What a student's copy loads is tensors, numbers and strings: torch.load(weights_only=True) reads it."""
    for number, ex in EXERCISES.items():
        save_record(ex.record(), tmp_path / f"{number}.pt")
        data = torch.load(tmp_path / f"{number}.pt", weights_only=True)
        kinds = {type(v).__name__ for v in _leaves(data)}
        assert kinds <= {"Tensor", "str", "int", "float", "bool", "NoneType"}, (number, kinds)


def test_encode_rebuilds_course_objects_and_refuses_code():
    from course_utils.diffusion.schedule import NoiseSchedule
    from course_utils.pgm import BayesianNetwork

    bn = BayesianNetwork.example("asia")
    back = decode(encode(bn))
    assert back is not bn and back.variables == bn.variables
    assert np.array_equal(back.joint().values, bn.joint().values)
    assert np.array_equal(back.sample(50, np.random.default_rng(0)), bn.sample(50, np.random.default_rng(0)))
    S = decode(encode(NoiseSchedule.linear(T=10)))
    assert torch.equal(S.alpha_bar, NoiseSchedule.linear(T=10).alpha_bar)
    with pytest.raises(TypeError, match="cannot be stored"):
        encode(lambda x: x)
    with pytest.raises(ValueError, match="only course_utils classes"):
        decode({"__object__": "os:system", "state": {}})
    with pytest.raises(ValueError, match="only course_utils classes"):
        decode({"__object__": "course_utils.exercises.neural_models:Exercise", "state": {}})


def test_a_student_cannot_change_the_cases_by_writing_into_them(stored):
    def writes(y):  # 01.1: returns the right prior, then scribbles over its input
        out = np.log(np.bincount(y, minlength=10) / len(y))
        y[:] = 0
        return out

    assert stored["01.1"](writes) is True
    assert stored["01.1"](EXERCISES["01.1"].right) is True
