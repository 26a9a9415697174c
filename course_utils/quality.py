"""Quality targets that a notebook asserts at the profile a student runs (``cpu``) and at ``full``.

    quality.at_least("conditional accuracy", acc, cpu=0.90, full=0.97)
    quality.at_most("classifier-FID / floor", fid / floor, cpu=3.0, full=1.5)

Each call prints one line saying what was checked against which target, and raises
``AssertionError`` with the measured value and the target when it is missed. A profile without a
target (usually ``smoke``, whose models are barely trained) prints the value and checks nothing;
so does a dry run (``COURSE_MAX_STEPS`` set: training was capped), which says so.
Thresholds are set from measured runs with a margin (the notebook's text gives the measurement).
"""

from __future__ import annotations

from course_utils import profile


def _check(name: str, value: float, targets: dict[str, float | None], higher: bool) -> bool:
    value = float(value)
    prof = profile.current()
    target = targets.get(prof)
    sign = "≥" if higher else "≤"
    if profile.dry_run():
        print(f"[quality] {name} = {value:.4g}: not asserted, training capped by "
              f"COURSE_MAX_STEPS={profile.max_steps()} (a dry run)")
        return False
    if target is None:
        print(f"[quality] {name} = {value:.4g} (no target at the {prof} profile)")
        return False
    ok = value >= target if higher else value <= target
    if not ok:
        raise AssertionError(f"[quality] {name} = {value:.4g} misses the {prof} target {sign} {target:.4g}")
    print(f"[quality] {name} = {value:.4g} {sign} {target:.4g} ({prof} target) ✓")
    return True


def at_least(name: str, value: float, *, smoke: float | None = None, cpu: float | None = None,
             full: float | None = None) -> bool:
    """Assert ``value >= target`` of the current profile; True if asserted, False if not checked."""
    return _check(name, value, {"smoke": smoke, "cpu": cpu, "full": full}, higher=True)


def at_most(name: str, value: float, *, smoke: float | None = None, cpu: float | None = None,
            full: float | None = None) -> bool:
    """Assert ``value <= target`` of the current profile; True if asserted, False if not checked."""
    return _check(name, value, {"smoke": smoke, "cpu": cpu, "full": full}, higher=False)
