import pytest
import torch

from course_utils import profile


def test_pick_follows_the_environment(monkeypatch):
    for name, want in [("smoke", 1), ("cpu", 8), ("full", 60), ("CPU", 8)]:
        monkeypatch.setenv("COURSE_PROFILE", name)
        assert profile.pick(smoke=1, cpu=8, full=60) == want


def test_default_profile_depends_on_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE")
    assert profile.current() == ("full" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(profile, "_cuda_available", lambda: True)
    assert profile.current() == "full"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        profile.current()
    with pytest.raises(ValueError, match="valid profiles"):
        profile.pick(smoke=1, cpu=2, full=3, profile="fast")


def test_seed_everything_makes_torch_and_numpy_repeat():
    import numpy as np

    profile.seed_everything(3)
    a = (torch.randn(3), np.random.rand(3))
    profile.seed_everything(3)
    b = (torch.randn(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all()


def test_device_and_summary(monkeypatch):
    assert profile.device() == torch.device("cpu")  # conftest forces COURSE_DEVICE=cpu
    info = profile.summary()
    assert info["profile"] == "smoke" and info["device"] == "cpu"


def test_set_cpu_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert profile.set_cpu_threads(1) == 1
        monkeypatch.setenv("COURSE_THREADS", "2")
        assert profile.set_cpu_threads() == 2
        monkeypatch.setenv("COURSE_THREADS", "0")
        assert profile.set_cpu_threads() == 2  # 0 keeps what torch has
        with pytest.raises(ValueError, match=">= 0"):
            profile.set_cpu_threads(-1)
    finally:
        torch.set_num_threads(before)


def test_max_steps_cap_and_dry_run(monkeypatch):
    assert profile.max_steps() is None and not profile.dry_run() and profile.capped(500) == 500
    monkeypatch.setenv("COURSE_MAX_STEPS", "7")
    assert profile.max_steps() == 7 and profile.dry_run()
    assert profile.capped(500) == 7 and profile.capped(3) == 3
    for bad in ("0", "-2", "abc", "1.5"):
        monkeypatch.setenv("COURSE_MAX_STEPS", bad)
        with pytest.raises(ValueError, match="COURSE_MAX_STEPS"):
            profile.max_steps()


def test_threads_must_be_a_number(monkeypatch):
    monkeypatch.setenv("COURSE_THREADS", "abc")
    with pytest.raises(ValueError, match="COURSE_THREADS must be a whole number"):
        profile.set_cpu_threads()


def test_seeded_restores_the_callers_generator():
    import torch

    torch.manual_seed(5)
    want = torch.randn(3)
    torch.manual_seed(5)
    with profile.seeded(0):
        a = torch.randn(2)
    with profile.seeded(0):
        b = torch.randn(2)
    assert torch.equal(a, b) and torch.equal(torch.randn(3), want)


def test_pick_names_the_missing_and_unknown_profiles():
    # before: a Python TypeError ("missing 1 required keyword-only argument")
    with pytest.raises(ValueError, match=r"no value for the full profile.*smoke, cpu, full"):
        profile.pick(smoke=1, cpu=2)
    with pytest.raises(ValueError, match=r"no value for the cpu, full profiles"):
        profile.pick(smoke=1, profile="smoke")  # even where the active profile has one: the others run elsewhere
    with pytest.raises(ValueError, match=r"unknown profile name\(s\) gpu.*smoke, cpu, full"):
        profile.pick(smoke=1, cpu=2, full=3, gpu=4)
    assert profile.pick(smoke=None, cpu=0, full=3, profile="smoke") is None  # None and 0 are values
    assert profile.pick(smoke=None, cpu=0, full=3, profile="cpu") == 0


def test_the_default_thread_count_comes_from_the_bench_unless_a_test_run_set_one(monkeypatch, isolated_dirs):
    import json
    import os

    from course_utils import paths

    cores = os.cpu_count()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert profile.default_threads() == min(profile.DEFAULT_THREADS, cores)  # no measurement: the default
    path = paths.build_dir() / "artifacts" / "bench_training" / "metrics-cpu.json"
    path.parent.mkdir(parents=True)
    fast = {"cores": cores, "a.threads_1.s_per_step": 1.0, "a.threads_2.s_per_step": 0.5,
            "b.threads_1.s_per_step": 2.0, "b.threads_2.s_per_step": 1.2}
    path.write_text(json.dumps(fast))
    assert profile.threads_from_bench() == 2 and profile.default_threads() == min(2, cores)
    slow = dict(fast, **{"a.threads_2.s_per_step": 15.0})  # busy cores: a second thread is 15x slower on a
    path.write_text(json.dumps(slow))
    assert profile.threads_from_bench() == 1
    marginal = dict(fast, **{"a.threads_2.s_per_step": 0.95, "b.threads_2.s_per_step": 1.9})  # 5 % faster
    path.write_text(json.dumps(marginal))
    assert profile.threads_from_bench() == 1
    path.write_text(json.dumps(dict(fast, cores=cores + 6)))  # measured on another machine: not used
    assert profile.threads_from_bench() is None
    path.write_text(json.dumps(fast))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # make test runs notebooks side by side, one thread each
    assert profile.default_threads() == 1


def test_course_threads_beyond_the_cores_and_bad_devices_are_clear(monkeypatch, capsys):
    import os

    monkeypatch.setenv("COURSE_THREADS", "100000")
    with pytest.raises(ValueError, match=rf"COURSE_THREADS must be from 0 .* to {os.cpu_count()}"):
        profile.set_cpu_threads()
    monkeypatch.setenv("COURSE_DEVICE", "gpu")
    with pytest.raises(ValueError, match="COURSE_DEVICE must be cpu, cuda, cuda:N or mps, got 'gpu'"):
        profile.device()
    if not torch.backends.mps.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "mps")
        assert profile.device() == torch.device("cpu")
        assert "COURSE_DEVICE=mps, but this torch build or machine offers no MPS" in capsys.readouterr().out
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
        assert profile.device() == torch.device("cpu")
