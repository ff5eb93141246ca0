"""The staging endpoint's integration test, run by CodeBuild between the Staging and Production stages.
Standard library only (the build invokes the endpoint with the AWS CLI).

    python integration_check.py prepare --holdout holdout.csv --rows 20 --out rows.csv
    python integration_check.py check --rows rows.csv --predictions predictions.csv --seconds 3

``prepare`` takes the first rows of the run's test split (label first, no header) and strips the
label, as built-in XGBoost expects a request. ``check`` passes when the endpoint answered one
probability per row, each between 0 and 1, within ``--max-seconds`` (a serverless cold start
included); otherwise it prints what is wrong and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAX_SECONDS = 30


def prepare(holdout: Path, rows: int, out: Path) -> int:
    lines = [line for line in holdout.read_text().splitlines() if line.strip()][:rows]
    if not lines:
        print(f"{holdout} holds no rows: the run's test split is empty")
        return 1
    out.write_text("\n".join(",".join(line.split(",")[1:]) for line in lines) + "\n")
    print(f"{len(lines)} rows of {holdout}, labels stripped, in {out}")
    return 0


def scores(text: str) -> list[str]:
    """Built-in XGBoost answers text/csv with one score per line or comma-separated."""
    return [value.strip() for value in text.replace("\n", ",").split(",") if value.strip()]


def check(rows: Path, predictions: Path, seconds: float, max_seconds: float) -> int:
    sent = len([line for line in rows.read_text().splitlines() if line.strip()])
    answered = scores(predictions.read_text())
    problems = []
    if len(answered) != sent:
        problems.append(f"sent {sent} rows, got {len(answered)} predictions")
    for value in answered:
        try:
            probability = float(value)
        except ValueError:
            problems.append(f"prediction {value!r} is not a number")
            continue
        if not 0.0 <= probability <= 1.0:
            problems.append(f"prediction {probability} is not a probability")
    if seconds > max_seconds:
        problems.append(f"the endpoint took {seconds:g} s, more than {max_seconds:g} s")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"staging answered {sent} rows in {seconds:g} s, every prediction a probability")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("prepare")
    first.add_argument("--holdout", type=Path, required=True)
    first.add_argument("--rows", type=int, default=20)
    first.add_argument("--out", type=Path, required=True)
    second = commands.add_parser("check")
    second.add_argument("--rows", type=Path, required=True)
    second.add_argument("--predictions", type=Path, required=True)
    second.add_argument("--seconds", type=float, required=True)
    second.add_argument("--max-seconds", type=float, default=MAX_SECONDS)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return prepare(args.holdout, args.rows, args.out)
    return check(args.rows, args.predictions, args.seconds, args.max_seconds)


if __name__ == "__main__":
    sys.exit(main())
