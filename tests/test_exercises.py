"""Every registered exercise: a right answer passes, each plausible mistake fails with its message,
and a stub (None) is reported as not attempted, without an exception."""

import importlib
import pkgutil

import pytest

import course_utils.exercises as exercises_pkg
from course_utils.exercises import REGISTRY

for _mod in pkgutil.iter_modules(exercises_pkg.__path__):
    importlib.import_module(f"course_utils.exercises.{_mod.name}")
NAMES = sorted(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_right_answer_passes(name, capsys):
    assert REGISTRY[name].check(REGISTRY[name].right) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_each_mistake_fails_with_a_message_that_says_what_is_wrong(name):
    ex = REGISTRY[name]
    assert ex.mistakes
    for mistake in ex.mistakes:
        with pytest.raises(AssertionError) as info:
            ex.check(mistake.answer)
        assert mistake.says in str(info.value), f"{name}: message {str(info.value)!r} lacks {mistake.says!r}"


@pytest.mark.parametrize("name", NAMES)
def test_a_stub_is_not_attempted(name, capsys):
    assert REGISTRY[name].check(None) is False
    assert "not attempted" in capsys.readouterr().out
