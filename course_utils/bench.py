"""`make bench`: run tools/bench_*.py (exact inference against pgmpy; a training step of 07, 11, 12 and 14
at 1, 2 and all threads), then gather build/artifacts/*/metrics-<profile>.json into one table.

    python -m course_utils.bench            # run the benchmark scripts, then gather
    python -m course_utils.bench --gather   # only gather what the notebooks and scripts saved

The table is printed and written to build/bench.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .artifacts import read_metrics_file
from .paths import ROOT, atomic_write, build_dir

SCRIPT_TIMEOUT_S = 3600  # a benchmark script that runs longer is stopped and named


def run_scripts(root: Path = ROOT, timeout: float = SCRIPT_TIMEOUT_S) -> list[str]:
    """Run every tools/bench_*.py with this Python, each for at most ``timeout`` s; return those that failed."""
    failed = []
    for script in sorted((root / "tools").glob("bench_*.py")):
        print(f"== {script.relative_to(root)}", flush=True)
        try:
            rc = subprocess.run([sys.executable, str(script)], cwd=root, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            print(f"{script.name} did not finish within {timeout:.0f} s: stopped", file=sys.stderr)
            rc = -1
        if rc != 0:
            failed.append(script.name)
    return failed


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def gather(build: Path | None = None) -> str:
    """One Markdown table: a row per (artifact folder, profile, metric)."""
    build = build or build_dir()
    rows = []
    order = {"smoke": 0, "cpu": 1, "full": 2}
    files = sorted((build / "artifacts").glob("*/metrics-*.json"),
                   key=lambda p: (p.parent.name, order.get(p.stem.removeprefix("metrics-"), 9)))
    for path in files:
        metrics = read_metrics_file(path)
        if metrics is None:  # named in a warning; the table says so and goes on
            rows.append(f"| {path.parent.name} | {path.stem.removeprefix('metrics-')} | (damaged file: {path}) | |")
            continue
        prof = metrics.pop("profile", path.stem.removeprefix("metrics-"))
        for key in sorted(metrics):
            rows.append(f"| {path.parent.name} | {prof} | {key} | {_fmt(metrics[key])} |")
    if not rows:
        return ("No metrics yet: run the notebooks (`make course` or `make nbval`) "
                "or the benchmark scripts first.\n")
    head = "| notebook / benchmark | profile | metric | value |\n|---|---|---|---|\n"
    return head + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--gather", action="store_true", help="only gather, run no benchmark script")
    args = parser.parse_args()
    failed = [] if args.gather else run_scripts()
    table = gather()
    out = build_dir() / "bench.md"
    atomic_write(out, table)
    print(table)
    print(f"written to {out}")
    if failed:
        print(f"benchmark scripts that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
