"""Times the labs command line's start against ``python -c "import boto3"`` in the same run.

``labs --help``, ``labs list --offline`` and ``labs practice feature-store --dry-run`` must not
load the CDK (their facts come from the lab contracts): each should take at most twice the time
Python needs to import boto3. Interleaved runs, median of each; prints every ratio.

    .venv/bin/python bench/cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import timing  # bench/timing.py, beside this script

GOAL = 2.0
BASELINE = ("python -c 'import boto3'", [sys.executable, "-c", "import boto3"])
COMMANDS = [
    ("labs --help", [sys.executable, "-m", "labs", "--help"]),
    ("labs list --offline", [sys.executable, "-m", "labs", "list", "--offline"]),
    ("labs practice feature-store --dry-run", [sys.executable, "-m", "labs", "practice", "feature-store", "--dry-run"]),
]


def timed(command: list[str]) -> float:
    return timing.timed(command, AWS_DEFAULT_REGION="us-east-1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name, _ in [BASELINE, *COMMANDS]}
    for _, command in [BASELINE, *COMMANDS]:
        timed(command)  # warm the file cache once
    for _ in range(runs):
        for name, command in [BASELINE, *COMMANDS]:
            times[name].append(timed(command))
    baseline = statistics.median(times[BASELINE[0]])
    print(f"{BASELINE[0]:<42} {baseline:.3f} s (median of {runs})")
    worst = 0.0
    for name, _ in COMMANDS:
        median = statistics.median(times[name])
        ratio = median / baseline
        worst = max(worst, ratio)
        print(f"{name:<42} {median:.3f} s  {ratio:.2f}x (goal <= {GOAL}x)")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
