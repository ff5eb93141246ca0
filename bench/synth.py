"""Times `cdk synth` of every lab with all gates on against an empty CDK app.

Both run through the same pinned CDK CLI in the same run, so Node and Python start-up
cost the same for each. The goal's baseline is an empty default App(); the labs' App
turns aws-cdk-lib's built-in schema validation off (cfn-lint gates the same schemas in
the tests), so the ratio against an empty app with those same settings is printed too.
"All gates" means the cdk-nag packs that run at synth: AwsSolutions in both profiles and
NIST 800-53 R5 in production. Prints the median of several runs and the ratio (goal: at
most 1.5x).

`--cfn-guard` adds the labs with cfn-guard's Control Tower rules as a synth-time plugin
(bench/guard_app.py), the option that the tests' cfn-guard gate was measured against.

    .venv/bin/python bench/synth.py [--runs 3] [--cfn-guard]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import timing  # bench/timing.py, beside this script
from timing import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"
GOAL = 1.5


def timed_synth(app: str, outdir: Path, *context: str) -> float:
    command = [str(CDK), "synth", "--quiet", "--app", app, "-o", str(outdir)]
    for item in context:
        command += ["-c", item]
    return timing.timed(command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cfn-guard", action="store_true", help="also time cfn-guard as a synth-time plugin")
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "empty app (default App, the goal's baseline)": (f"{python} bench/empty_app.py", ()),
        "empty app (labs' App settings)": (f"{python} bench/empty_app.py --labs-settings", ()),
        "all labs, sandbox (AwsSolutions)": (f"{python} app.py", ("profile=sandbox",)),
        "all labs, production (AwsSolutions + NIST)": (f"{python} app.py", ("profile=production",)),
    }
    if args.cfn_guard:
        cases["all labs, sandbox + cfn-guard plugin"] = (f"{python} bench/guard_app.py", ("profile=sandbox",))
        cases["all labs, production + cfn-guard plugin"] = (f"{python} bench/guard_app.py", ("profile=production",))
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for name, (app, context) in cases.items():
                seconds = timed_synth(app, Path(tmp) / f"{len(name)}-{run}", *context)
                medians.setdefault(name, []).append(seconds)
    default, same = (statistics.median(medians[name]) for name in list(cases)[:2])
    print(f"{'case':<46} {'median s':>9} {'ratio':>8} {'vs same settings':>17}")
    worst = 0.0
    for name, samples in medians.items():
        median = statistics.median(samples)
        worst = max(worst, median / default) if name.startswith("all labs") else worst
        print(f"{name:<46} {median:>9.2f} {median / default:>8.2f} {median / same:>17.2f}")
    print(f"worst ratio {worst:.2f} against an empty default CDK app (goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
