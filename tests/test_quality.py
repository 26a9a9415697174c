"""quality.at_least / at_most: the target of the current profile, none at smoke, none in a dry run."""

import pytest

from course_utils import quality


def test_targets_per_profile(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert quality.at_least("accuracy", 0.93, cpu=0.90, full=0.97)
    assert "0.93 ≥ 0.9 (cpu target)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"accuracy = 0.85 misses the cpu target ≥ 0.9"):
        quality.at_least("accuracy", 0.85, cpu=0.90)
    with pytest.raises(AssertionError, match="misses the cpu target ≤ 3"):
        quality.at_most("FID ratio", 3.5, cpu=3.0)
    monkeypatch.setenv("COURSE_PROFILE", "full")
    with pytest.raises(AssertionError, match="full target"):
        quality.at_least("accuracy", 0.93, cpu=0.90, full=0.97)


def test_no_target_and_dry_run_check_nothing_and_say_so(monkeypatch, capsys):
    assert not quality.at_least("accuracy", 0.1, cpu=0.9)  # smoke has no target here
    assert "no target at the smoke profile" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")
    assert not quality.at_least("accuracy", 0.1, full=0.97)
    assert "not asserted, training capped by COURSE_MAX_STEPS=2" in capsys.readouterr().out
