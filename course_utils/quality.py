"""Quality targets that a notebook asserts at the profile a student runs (``cpu``) and at ``full``.

    quality.at_least("conditional accuracy", acc, cpu=0.90, full=0.97)
    quality.at_most("classifier-FID / floor", fid / floor, cpu=3.0, full=1.5)

Each call prints one line saying what was checked against which target, and raises
``AssertionError`` with the measured value and the target when it is missed. A profile without a
target (usually ``smoke``, whose models are barely trained) prints the value and checks nothing;
so does a dry run (``COURSE_MAX_STEPS`` set: training was capped), which says so.
Thresholds are set from measured runs with a margin (the notebook's text gives the measurement).
The lines are in the notebook's language (course_utils.i18n); a Chinese notebook passes a Chinese name,
``quality.at_least(tr("conditional accuracy", "条件准确率"), ...)``.
"""

from __future__ import annotations

from course_utils import profile
from course_utils.i18n import t


def _check(name: str, value: float, targets: dict[str, float | None], higher: bool) -> bool:
    value = float(value)
    prof = profile.current()
    target = targets.get(prof)
    sign = "≥" if higher else "≤"
    if profile.dry_run():
        print(t("quality.dry_run", name=name, value=value, steps=profile.max_steps()))
        return False
    if target is None:
        print(t("quality.no_target", name=name, value=value, profile=prof))
        return False
    ok = value >= target if higher else value <= target
    if not ok:
        raise AssertionError(t("quality.missed", name=name, value=value, profile=prof, sign=sign, target=target))
    print(t("quality.met", name=name, value=value, sign=sign, target=target, profile=prof))
    return True


def at_least(name: str, value: float, *, smoke: float | None = None, cpu: float | None = None,
             full: float | None = None) -> bool:
    """Assert ``value >= target`` of the current profile; True if asserted, False if not checked."""
    return _check(name, value, {"smoke": smoke, "cpu": cpu, "full": full}, higher=True)


def at_most(name: str, value: float, *, smoke: float | None = None, cpu: float | None = None,
            full: float | None = None) -> bool:
    """Assert ``value <= target`` of the current profile; True if asserted, False if not checked."""
    return _check(name, value, {"smoke": smoke, "cpu": cpu, "full": full}, higher=False)
