"""The GitHub workflow runs what .ci/run runs, and make test-cpu weekly (issue 21, item 8)."""

import re

import pytest

from course_utils.paths import ROOT

yaml = pytest.importorskip("yaml")


def _workflow():
    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))


def test_every_push_runs_ci_run_itself():
    wf = _workflow()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    runs = {name: [s.get("run", "") for s in job["steps"]] for name, job in wf["jobs"].items()}
    on_push = [name for name, job in wf["jobs"].items() if "schedule" in job.get("if", "") and "!=" in job["if"]]
    assert on_push, "a job for pushes"
    assert any(re.fullmatch(r"bash \.ci/run", r.strip()) for r in runs[on_push[0]])
    # .ci/run is what that job runs: its make targets (the control: the old workflow ran only lint and test)
    targets = re.findall(r"^make (\S+)", (ROOT / ".ci" / "run").read_text(), re.M)
    assert {"lint", "test", "test-full-dry", "test-student", "test-browser"} <= set(targets)


def test_a_weekly_job_runs_make_test_cpu():
    wf = _workflow()
    triggers = wf[True] if True in wf else wf["on"]
    assert re.fullmatch(r"\d+ \d+ \* \* \d", triggers["schedule"][0]["cron"])  # once a week
    weekly = [job for job in wf["jobs"].values() if "github.event_name == 'schedule'" in job.get("if", "")]
    assert weekly and any(s.get("run") == "make test-cpu" for s in weekly[0]["steps"])
